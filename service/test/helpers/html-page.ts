import { expect } from '@jest/globals';
import type request from 'supertest';
import { sessionCookie } from './test-app.ts';

// Reading the server-rendered pages the way a browser, a screen reader and a password manager do.

/** The <input> elements of a page, each as its attributes (a bare attribute maps to ''). */
export function inputsOf(page: string): Array<Record<string, string>> {
  return [...page.matchAll(/<input ([^>]*?)\s*\/?>/g)].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)(?:="([^"]*)")?/g)].map((a) => [a[1]!, a[2] ?? ''])),
  );
}

export function inputNamed(page: string, name: string): Record<string, string> {
  const input = inputsOf(page).find((i) => i.name === name);
  if (!input) throw new Error(`no input named ${name} in:\n${page}`);
  return input;
}

/** The text of the element with this id (hint, error). */
export function textOf(page: string, id: string): string | undefined {
  return new RegExp(`<(\\w+)[^>]* id="${id}"[^>]*>([^<]*)</\\1>`).exec(page)?.[2];
}

/** Every input has a <label for> naming it: what screen readers read and password managers match. */
export function expectEveryInputLabelled(page: string) {
  for (const input of inputsOf(page)) expect(page).toContain(`<label for="${input.id}">`);
}

/** The session cookie a 303 set, checked to be one: the form post signed someone in. */
export function cookieOf(res: request.Response): string {
  const cookie = sessionCookie(res);
  if (!cookie) throw new Error(`no session cookie; status ${res.status}: ${res.text}`);
  return cookie;
}
