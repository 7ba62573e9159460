import type { Logger } from '../infra/logger.ts';
import { AccessRules } from './access-rules.ts';
import { returnOrigins } from './return-url.ts';

/**
 * The access rules in force, and the origins a sign-in may return to (derived from them). Loaded
 * at start-up, where an invalid file stops the service (ConfigError); reloaded on SIGHUP, where
 * an invalid file is logged and the rules in force stay.
 */
export class AccessPolicy {
  private readonly file: string | undefined;
  private readonly publicOrigin: string;
  private readonly logger: Logger;
  rules: AccessRules;
  returnOrigins: ReadonlySet<string>;

  constructor(deps: { file: string | undefined; publicOrigin: string; logger: Logger }) {
    this.file = deps.file;
    this.publicOrigin = deps.publicOrigin;
    this.logger = deps.logger;
    this.rules = AccessRules.load(this.file);
    this.returnOrigins = returnOrigins(this.publicOrigin, this.rules.hosts());
  }

  reload(): boolean {
    try {
      this.rules = AccessRules.load(this.file);
      this.returnOrigins = returnOrigins(this.publicOrigin, this.rules.hosts());
      this.logger.info(
        { event: 'access_rules.reloaded', file: this.file, rules: this.rules.rules.length },
        'access rules reloaded',
      );
      return true;
    } catch (error) {
      this.logger.error(
        { event: 'access_rules.invalid', file: this.file, err: error },
        'access rules not reloaded: the file is invalid; the rules in force stay',
      );
      return false;
    }
  }
}
