// simple-peer logs through `debug` (CommonJS: require('debug')(name)); the page has no use for it.
module.exports = function debug() {
  return function log() {}
}
