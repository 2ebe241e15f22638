// The service worker: keeps the app shell (page, script, style, worker, icons) so Parley opens offline
// and installs as an app. Chat never goes through it: the API and event streams pass untouched.

/** The build's content-hashed files and their hash of hashes (build.mjs): a new build, a new cache. */
declare const __PARLEY_SHELL__: string[]
declare const __PARLEY_VERSION__: string

// The members of ServiceWorkerGlobalScope used here (the webworker lib cannot join the DOM lib).
interface ExtendableEvent extends Event {
  waitUntil(work: Promise<unknown>): void
}
interface InstallEvent extends ExtendableEvent {
  /** Static routing: Chromium 123+; not in Firefox yet. */
  addRoutes?(rules: { condition: { urlPattern: string }; source: 'network' }): Promise<void>
}
interface FetchEvent extends ExtendableEvent {
  request: Request
  respondWith(response: Promise<Response>): void
}
declare const self: {
  addEventListener(type: 'install', listener: (event: InstallEvent) => void): void
  addEventListener(type: 'activate', listener: (event: ExtendableEvent) => void): void
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void
  skipWaiting(): Promise<void>
  clients: { claim(): Promise<void> }
  location: Location
}

export {}

const CACHE = `parley-${__PARLEY_VERSION__}`
const SHELL = '/'
const API = '/v1/'

self.addEventListener('install', (event) => {
  // The API and event streams go straight to the network, without waiting for this worker to start
  // (where the browser has static routes: Chromium 123+, not Firefox). A goodbye sent by beacon as a page
  // went was seen lost on its way through this worker (test/README.md, "A seat that outlived its page"),
  // and the seat kept its grace. The spec keeps the install alive for it and never fails the install on it.
  void event.addRoutes?.({ condition: { urlPattern: `${API}*` }, source: 'network' })
  // A new version takes over at once: the shell is one page and its hashed files, nothing to migrate.
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([SHELL, ...__PARLEY_SHELL__]))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('parley-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  // The API's own check too: where there is no static route (Firefox, older browsers) its event streams come here.
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith(API)) return
  if (request.mode === 'navigate') {
    // The page itself: fresh from the server when it answers (it may be a new version), else the shell.
    event.respondWith(fetch(request).catch(async () => (await caches.match(SHELL, { cacheName: CACHE })) ?? Response.error()))
    return
  }
  event.respondWith(caches.match(request, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)))
})
