// oidc-provider ships no type declarations: the little of it the OpenID Connect test uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface Account {
    accountId: string;
    claims(): Promise<Record<string, unknown>>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown> & { findAccount?: (context: unknown, id: string) => Promise<Account | undefined> });
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
  }
}
