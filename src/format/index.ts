/** The wire format: one source of truth, no Node imports, usable in a browser. */
export * from './limits.js';
export * from './varint.js';
export * from './header.js';
export * from './events.js';
export * from './text.js';
