// Puppeteer's postinstall downloads Chrome from the internet. Skip that when a
// system Chromium exists (CI, Debian boxes) or when the environment asks; the
// tests find the browser at run time (test/browsers.ts).
const fs = require('node:fs')
const systemChromium = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].some(
  (p) => fs.existsSync(p),
)
module.exports = {
  skipDownload: systemChromium || process.env.PUPPETEER_SKIP_DOWNLOAD === '1' || process.env.PUPPETEER_SKIP_DOWNLOAD === 'true',
}
