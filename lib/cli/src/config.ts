/**
 * @module config
 * The CLI's settings: the memmesh URL and API key, from flags or the environment (read by
 * the entry point only and passed in, so tests give their own).
 */
export const CLI_ENV_NAMES = { url: 'MEMMESH_URL', apiKey: 'MEMMESH_API_KEY' } as const;

/** The local mesh's gateway (`npm start`). */
export const DEFAULT_MEMMESH_URL = 'http://127.0.0.1:8080';

export interface CliConfig {
  url: string;
  apiKey: string;
}

/** Exit codes, so that scripts can tell a missing memory from an outage. */
export const EXIT = {
  ok: 0,
  /** Any other error the API answered (bad input, too large, …). */
  failed: 1,
  /** Bad command line or missing configuration. */
  usage: 2,
  notFound: 3,
  conflict: 4,
  /** Missing, wrong or insufficient API key. */
  auth: 5,
  /** Rate limited, unavailable or timed out after the client's retries: try again later. */
  unavailable: 6,
  /** Stopped by Ctrl-C (128 + SIGINT); an import resumes when run again. */
  interrupted: 130,
} as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function configOf(
  flags: { url?: string | undefined; 'api-key'?: string | undefined },
  env: Record<string, string | undefined>,
): CliConfig {
  const url = flags.url ?? env[CLI_ENV_NAMES.url] ?? DEFAULT_MEMMESH_URL;
  const apiKey = flags['api-key'] ?? env[CLI_ENV_NAMES.apiKey];
  if (!apiKey) throw new UsageError(`set ${CLI_ENV_NAMES.apiKey} (or --api-key) to your memmesh API key`);
  if (!/^https?:\/\//.test(url))
    throw new UsageError(`${CLI_ENV_NAMES.url} must be an http(s) URL, got '${url}'`);
  return { url, apiKey };
}
