export { isRuntimeError, RuntimeError, type RuntimeErrorCode, type RuntimeErrorOptions } from './errors.js';
