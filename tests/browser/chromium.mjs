// How the browser tests start Chromium (PEERS.md): Debian's package,
// headless, without anything that would reach the network on its own.
export const CHROMIUM = process.env.GUSS_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
