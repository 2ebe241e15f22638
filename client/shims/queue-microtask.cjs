// The platform's own queueMicrotask, in the CommonJS shape simple-peer requires.
module.exports = (fn) => queueMicrotask(fn)
