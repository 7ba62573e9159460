import { Html, html } from './html.ts';

/** The autocomplete tokens password managers key on (WHATWG autofill). */
export type Autocomplete = 'username' | 'current-password' | 'new-password';

export interface FieldSpec {
  /** The input's name (as the JSON API names the field) and its id. */
  name: string;
  label: string;
  type: 'text' | 'password';
  autocomplete: Autocomplete;
  value?: string;
  /** Shown under the label before anyone types: rules, limits. */
  hint?: string;
  /** What was wrong with the last submission. */
  error?: string;
  autofocus?: boolean;
  readonly?: boolean;
  minLength?: number;
  maxLength?: number;
}

/**
 * One labelled input. Hint and error sit between the label and the input (read in that order)
 * and are tied to the input with aria-describedby, so a screen reader announces them on focus;
 * aria-invalid marks the input the error is about. Without script, focus is moved with
 * `autofocus` on the first invalid input.
 */
export function field(spec: FieldSpec): Html {
  const hintId = `${spec.name}-hint`;
  const errorId = `${spec.name}-error`;
  const describedBy = [spec.hint ? hintId : '', spec.error ? errorId : ''].filter(Boolean).join(' ');
  const input = attributes({
    id: spec.name,
    name: spec.name,
    type: spec.type,
    autocomplete: spec.autocomplete,
    value: spec.value,
    readonly: spec.readonly,
    required: !spec.readonly,
    minlength: spec.minLength,
    maxlength: spec.maxLength,
    'aria-describedby': describedBy || undefined,
    'aria-invalid': spec.error ? 'true' : undefined,
    autofocus: spec.autofocus,
  });
  return html`<div class="field">
    <label for="${spec.name}">${spec.label}</label>
    ${spec.hint ? html`<p class="hint" id="${hintId}">${spec.hint}</p>` : ''}
    ${spec.error ? html`<p class="field-error" id="${errorId}">${spec.error}</p>` : ''}
    <input ${input} />
  </div>`;
}

/** Attributes in the order given: `true` is a bare attribute, false/undefined are left out, values are escaped. */
function attributes(values: Record<string, string | number | boolean | undefined>): Html {
  const parts = Object.entries(values)
    .filter(([, value]) => value !== undefined && value !== false)
    .map(([name, value]) => (value === true ? name : html`${name}="${value}"`.value));
  return new Html(parts.join(' '));
}

/** A problem with the whole submission (throttled, overloaded), not with one input. */
export function formError(message: string | undefined): Html | string {
  return message ? html`<p class="error" role="alert" id="form-error">${message}</p>` : '';
}

/**
 * Which input gets focus: the first one with an error, else the first one a person fills in.
 * Returns the spec list with `autofocus` set on exactly that one.
 */
export function withFocus(specs: FieldSpec[]): FieldSpec[] {
  const editable = specs.filter((s) => !s.readonly);
  const target = editable.find((s) => s.error) ?? editable.find((s) => !s.value) ?? editable[0];
  return specs.map((s) => ({ ...s, autofocus: s === target }));
}
