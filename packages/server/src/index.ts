/**
 * Caregaps reference host (`caregaps serve`): a Fastify server over the incremental engine and the access layer —
 * registry dashboards, gap lists with CSV export, the patient record view, live updates and FHIR intake.
 * @packageDocumentation
 */
export { createServer, type ServerOptions } from './server.js';
export { checkAuthenticator, purposeOf, type Authenticator, type AuthenticatorMeta, type Session } from './authenticator.js';
export { developmentAuthenticator, loadPrincipals, checkPrincipals, type DevelopmentAuthenticatorOptions } from './development.js';
export { receiveBundle, type IntakeResponse, type RecordSink } from './fhir.js';
export { LiveUpdates, type ChangeStream } from './live.js';
export { openHost, DEMO_PRINCIPALS, DEMO_CARE_TEAMS, DEMO_AGREEMENTS, DEMO_SAMPLE, type Host, type HostOptions } from './host.js';
export { loadCareTeams, loadAgreements, loadOptOuts, saveOptOuts } from './host-files.js';
export { gapHistory, type GapHistory, type GapStart } from './since.js';
export { oidcAuthenticator, loadOidcConfig, type OidcOptions } from './oidc.js';
export { sessionFromClaims, checkClaimMapping, DEFAULT_CLAIMS, type ClaimMapping } from './claims.js';
export { Scorecards, quarterEnds, type TrendSources, type ScorecardQuery } from './scorecard.js';
