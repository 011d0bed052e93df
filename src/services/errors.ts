/** Domain errors carry a closed set of codes; the API's error handler maps each code to one HTTP status. */

/** ErrorCode is every error a service may raise on purpose. */
export type ErrorCode =
  | 'validation_failed'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'unavailable'
  | 'too_many_requests';

/** AppError is an expected failure with a code, a message for the caller and optional details. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** ValidationError names the input field that is wrong. */
export class ValidationError extends AppError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super('validation_failed', `${field}: ${reason}`, { field });
  }
}

/** NotFoundError says which thing was not found. */
export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super('not_found', `${what} ${id} not found`, { id });
  }
}

/** ConflictError is a request that contradicts what is stored (e.g. a sale id reused with another body). */
export class ConflictError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('conflict', message, details);
  }
}
