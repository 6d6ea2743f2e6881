/**
 * @module log
 * Structured JSON logs, one object per line on stdout: what operators ship to their log
 * store without a parser. A line written inside a span carries its `trace_id` and `span_id`.
 * Every service logs through this one logger; its level comes from the service's validated
 * configuration (`MEMMESH_LOG_LEVEL`).
 */
import { z } from 'zod';
import { activeTraceIds } from './tracing.ts';

export const LogLevelSchema = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevelSchema>;

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(base: Record<string, unknown>, level: LogLevel = DEFAULT_LOG_LEVEL): Logger {
  const emit = (at: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[at] < RANK[level]) return;
    const line = { time: new Date().toISOString(), level: at, msg, ...base, ...activeTraceIds(), ...fields };
    process.stdout.write(`${JSON.stringify(line, errorReplacer)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
