import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import { CaregapsError, type CompiledRegistry } from '@caregaps/core';
import type { AccessLayer, AccessView, Purpose } from '@caregaps/access';
import { agreementId, agreementTerms, agreementsBody } from './agreements.js';
import { auditForm, auditFragment, auditQuery } from './audit.js';
import { checkAuthenticator, purposeOf, type Authenticator, type Session } from './authenticator.js';
import { SCRIPT, STYLESHEET } from './client.js';
import { dashboardForm, dashboardFragment, dashboardQuery } from './dashboard.js';
import { cookieSecret } from './development.js';
import { receiveBundle, type RecordSink } from './fhir.js';
import { gapForm, gapQuery, gapSearch, gapsFragment } from './gaps.js';
import { esc, messagePage, page, type Frame } from './html.js';
import { LiveUpdates, type ChangeStream } from './live.js';
import { optOutChange, optOutsBody } from './opt-outs.js';
import { patientBody } from './patient.js';
import type { GapHistory, GapStart } from './since.js';
import { Scorecards, scorecardQuery, type TrendSources } from './scorecard.js';

/** What the server is built from. */
export interface ServerOptions {
  /** The incremental engine: its change stream drives live pages, and `POST /fhir` applies records to it. */
  engine: RecordSink & { readonly changes$: ChangeStream };
  /** Every read goes through it (policies, audit, suppression). Build it over the same engine (`withAccess`). */
  access: AccessLayer;
  /** The compiled registries the engine evaluates (titles, indicators, provisional flags). */
  registries: readonly CompiledRegistry[];
  /** When each gap began, for the gap lists' "since" column (`gapHistory(engine, compiled, index)`; default: not shown). */
  gapHistory?: GapHistory;
  /** Earlier achievement dates for the scorecard's trends, and the results on each (default: no trends). */
  trends?: TrendSources;
  /** Called after every change to the opt-out register (e.g. to save it); a failure is reported to the user. */
  onOptOutsChanged?: () => void | Promise<void>;
  /** Who the user is. Checked when the server is created. */
  authenticator: Authenticator;
  /** Secret for signing session cookies (default: random per process). */
  cookieSecret?: string;
  /** How long changes are coalesced before open pages are updated (default 100 ms). */
  liveDelayMs?: number;
  /** Largest `POST /fhir` body, in bytes (default 10 MiB). */
  bodyLimit?: number;
  /** Fastify's logger (default off). */
  logger?: boolean;
}

interface Caller {
  session: Session;
  purpose: Purpose;
  view: AccessView;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

const HTML = 'text/html; charset=utf-8';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * The Caregaps reference host: dashboards, gap lists with CSV export, the patient record view, live updates over
 * server-sent events and FHIR intake, over one engine and one access layer. Every route but the authenticator's own
 * and the static assets needs a session and a purpose; every read is an access-layer call (decided and audited there).
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const authenticator = checkAuthenticator(options.authenticator);
  const { access, registries } = options;
  const live = new LiveUpdates(options.engine.changes$, options.liveDelayMs);
  const scorecards = new Scorecards(access, registries, options.trends);
  // Open event streams never go idle: closing the server ends them rather than waiting for browsers to leave.
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimit ?? 10 << 20, forceCloseConnections: true });
  await app.register(cookie, { secret: options.cookieSecret ?? cookieSecret() });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    // Repeated fields (checkboxes) become arrays.
    const params = new URLSearchParams(body as string);
    const form: Record<string, string | string[]> = {};
    for (const key of new Set(params.keys())) {
      const values = params.getAll(key);
      form[key] = values.length === 1 ? values[0]! : values;
    }
    done(null, form);
  });
  app.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.decorateRequest('caller', null);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
  });
  app.addHook('onClose', async () => live.close());

  const frame = (title: string, request: FastifyRequest, extra: Partial<Frame> = {}): Frame => ({
    title,
    authenticator: authenticator.meta,
    ...(request.caller ? { session: request.caller.session, purpose: request.caller.purpose } : {}),
    ...extra,
  });

  app.setErrorHandler(async (error, request, reply) => {
    const [status, message] =
      error instanceof CaregapsError && error.code === 'CG_ACCESS_DENIED'
        ? [403, `${error.message}. Your role, purpose or care relationship does not allow this; the refusal is recorded in the audit log.`]
        : error instanceof CaregapsError && (error.code === 'CG_USAGE' || error.code === 'CG_ACCESS_AGREEMENT')
          ? [400, error.message]
          : typeof (error as { statusCode?: unknown }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500
            ? [(error as { statusCode: number }).statusCode, (error as Error).message]
            : [500, 'Something went wrong on the server; it is logged. Try again, or tell whoever runs this server.'];
    if (status === 500) request.log.error(error);
    return reply.code(status).type(HTML).send(messagePage(frame(status === 403 ? 'Access denied' : 'Cannot show this page', request), message));
  });

  app.get('/static/app.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));
  app.get('/static/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(SCRIPT));
  if (authenticator.register) await authenticator.register(app);

  // Everything below needs a session and a purpose the session may declare: deny by default.
  await app.register(async (scoped) => {
    scoped.addHook('preHandler', async (request, reply) => {
      const session = await authenticator.authenticate(request);
      if (!session) {
        if (request.method === 'GET' && request.routeOptions.url !== '/events') return reply.redirect(authenticator.signInPath ?? '/login', 303);
        return reply.code(401).type(FHIR_JSON).send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'Sign in first' }] });
      }
      const purpose = purposeOf(session, (request.query as Record<string, unknown> | undefined)?.['purpose']);
      if (!purpose) {
        return reply.code(403).type(HTML).send(messagePage(frame('Access denied', request), `${session.label} may not declare that purpose; allowed: ${session.purposes.join(', ')}.`));
      }
      request.caller = { session, purpose, view: access.as(session.principal, purpose) };
    });

    scoped.get('/', async (_request, reply) => reply.redirect('/dashboard', 303));

    scoped.get('/dashboard', async (request, reply) => {
      const query = dashboardQuery(request.query as Record<string, unknown>, registries);
      const fragment = await dashboardFragment(request.caller!.view, registries, access.suppression, query);
      const live = `/events?${new URLSearchParams({ page: 'dashboard', ...query, purpose: request.caller!.purpose })}`;
      const body = `${dashboardForm(registries, query, request.caller!.purpose)}<p id="live-status" class="live-status" role="status" aria-live="polite"></p><div id="live">${fragment}</div>`;
      return reply.type(HTML).send(page(frame(`Dashboard by ${query.level === 'icb' ? 'ICB' : query.level === 'pcn' ? 'PCN' : query.level}`, request, { live }), body));
    });

    scoped.get('/scorecard', async (request, reply) => {
      const query = scorecardQuery(request.query as Record<string, unknown>, registries);
      const { form, body } = await scorecards.render(request.caller!.view, query, live.version);
      return reply.type(HTML).send(page(frame('Practice scorecard', request), form + body));
    });

    scoped.get('/gaps', async (request, reply) => {
      const query = gapQuery(request.query as Record<string, unknown>, registries);
      let body = gapForm(registries, query, request.caller!.purpose);
      let live: string | undefined;
      if (query) {
        const fragment = await gapsFragment(request.caller!.view, query, registries, options.gapHistory);
        live = `/events?${new URLSearchParams({ page: 'gaps', ...Object.fromEntries(new URLSearchParams(gapSearch(query))), purpose: request.caller!.purpose })}`;
        body += `<p><a href="/gaps.csv?${esc(gapSearch(query))}&amp;purpose=${esc(request.caller!.purpose)}" download>Export this list as CSV</a></p>
<p id="live-status" class="live-status" role="status" aria-live="polite"></p><div id="live">${fragment}</div>`;
      }
      return reply.type(HTML).send(page(frame('Gap list', request, live ? { live } : {}), body));
    });

    scoped.get('/gaps.csv', async (request, reply) => {
      const query = gapQuery(request.query as Record<string, unknown>, registries);
      if (!query) throw new CaregapsError('CG_USAGE', 'Name a registry: /gaps.csv?registry=<id>[&indicator=<id>]');
      const { csv } = await request.caller!.view.exportGapList(query);
      const name = `gaps-${query.registry}${query.indicator ? '-' + query.indicator : ''}.csv`;
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(csv);
    });

    scoped.get<{ Params: { nhs: string } }>('/patients/:nhs', async (request, reply) => {
      const view = await request.caller!.view.patient(request.params.nhs);
      return reply.type(HTML).send(page(frame(`Patient ${view.nhsNumber}`, request), await patientBody(view)));
    });

    scoped.get('/audit', async (request, reply) => {
      const caller = request.caller!;
      const query = auditQuery(request.query as Record<string, unknown>, caller.session.principal.organisation);
      const fragment = await auditFragment(caller.view, query);
      return reply.type(HTML).send(page(frame('Access reports', request), auditForm(query) + fragment));
    });

    scoped.get('/agreements', async (request, reply) => {
      const caller = request.caller!;
      return reply.type(HTML).send(page(frame('Sharing agreements', request), agreementsBody(access, caller.session.principal.organisation)));
    });

    scoped.post('/agreements', async (request, reply) => {
      const caller = request.caller!;
      await caller.view.agreements.create(agreementTerms((request.body ?? {}) as Record<string, unknown>, caller.session.principal.organisation));
      return reply.redirect('/agreements', 303);
    });

    scoped.post<{ Params: { id: string; action: string } }>('/agreements/:id/:action', async (request, reply) => {
      const id = agreementId(request.params.id);
      const actions = request.caller!.view.agreements;
      if (request.params.action === 'sign') await actions.sign(id);
      else if (request.params.action === 'withdraw') await actions.withdraw(id);
      else if (request.params.action === 'amend') await actions.amend(id, agreementTerms((request.body ?? {}) as Record<string, unknown>, request.caller!.session.principal.organisation));
      else throw new CaregapsError('CG_USAGE', 'An agreement can be signed, amended or withdrawn here');
      live.schedule();
      return reply.redirect('/agreements', 303);
    });

    scoped.get('/opt-outs', async (request, reply) => {
      const caller = request.caller!;
      const entries = await caller.view.optOuts.list();
      return reply.type(HTML).send(page(frame('Opt-out register', request), optOutsBody(entries, new Date().toISOString().slice(0, 10))));
    });

    scoped.post('/opt-outs', async (request, reply) => {
      await request.caller!.view.optOuts.add(optOutChange((request.body ?? {}) as Record<string, unknown>));
      live.schedule();
      await options.onOptOutsChanged?.();
      return reply.redirect('/opt-outs', 303);
    });

    scoped.post('/opt-outs/remove', async (request, reply) => {
      await request.caller!.view.optOuts.remove(optOutChange((request.body ?? {}) as Record<string, unknown>));
      live.schedule();
      await options.onOptOutsChanged?.();
      return reply.redirect('/opt-outs', 303);
    });

    scoped.get('/events', async (request, reply) => {
      const q = request.query as Record<string, unknown>;
      const caller = request.caller!;
      let render: () => Promise<string>;
      // A gap list's "since" dates, kept for the patients the engine's changes have not named since.
      const known = new Map<string, GapStart | undefined>();
      if (q['page'] === 'dashboard') {
        const query = dashboardQuery(q, registries);
        render = () => dashboardFragment(caller.view, registries, access.suppression, query);
      } else if (q['page'] === 'gaps') {
        const query = gapQuery(q, registries);
        if (!query) throw new CaregapsError('CG_USAGE', 'Name a registry for a gap list');
        render = () => gapsFragment(caller.view, query, registries, options.gapHistory, known);
      } else throw new CaregapsError('CG_USAGE', 'page must be dashboard or gaps');
      const first = await render(); // a refusal answers 403 here, before the stream opens
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
      const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('update', { version: live.version, html: first });
      // One render at a time per stream; ticks that arrive meanwhile collapse into one more render.
      let running: Promise<void> | undefined;
      let again = false;
      // Patients named by changes since the last render began: their "since" is found again at the next render.
      const named = new Set<string>();
      const update = (_version = 0, patients: ReadonlySet<string> = new Set()): void => {
        for (const nhs of patients) named.add(nhs);
        if (running) {
          again = true;
          return;
        }
        for (const key of known.keys()) if (named.has(key.slice(0, key.indexOf('|')))) known.delete(key);
        named.clear();
        running = render()
          .then((html) => void send('update', { version: live.version, html }))
          .catch(() => {
            send('denied', {});
            stop();
            raw.end();
          })
          .finally(() => {
            running = undefined;
            if (again) {
              again = false;
              update();
            }
          });
      };
      const stop = live.listen(update);
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      request.raw.on('close', () => {
        stop();
        clearInterval(keepAlive);
      });
    });

    scoped.post('/fhir', async (request, reply) => {
      const { session } = request.caller!;
      if (!session.submitsRecords) {
        return reply.code(403).type(FHIR_JSON).send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', diagnostics: `${session.label} is not a record source` }] });
      }
      if (typeof request.body !== 'string') {
        return reply.code(415).type(FHIR_JSON).send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Send the Bundle as application/fhir+json' }] });
      }
      const result = await receiveBundle(options.engine, request.body, session.principal.organisation);
      request.log.info({ user: session.principal.user, applied: result.applied, status: result.status }, 'FHIR intake');
      return reply.code(result.status).type(FHIR_JSON).send(result.body);
    });
  });
  return app;
}
