/**
 * The recording sources. Importing this module registers each with the tracer, which starts
 * the ones its subscribers ask for. One import per source; each source is one module.
 */
import './threads.js';
import './async.js';
import './loop.js';
import './gc.js';
import './memory.js';
import './console.js';
import './http.js';
import './cpu.js';
