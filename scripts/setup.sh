#!/usr/bin/env bash
# Installs what `npm start` and `npm test` need, and only what is missing (CONTRIBUTING.md,
# "The toolchain"): the wasm32 target, wasm-bindgen-cli 0.2.130, cargo-deny, npm
# devDependencies (binaryen 132 = wasm-opt, playwright-core, vite), Debian's chromium +
# chromium-driver, firefox-esr, webkit2gtk-driver and xvfb, and geckodriver (off PATH). Warm
# runs take seconds.
# Source it (`. scripts/setup.sh`) to also get PATH with node_modules/.bin first (Debian's
# wasm-opt 108 produces broken modules: CONTRIBUTING.md, "Pitfalls").
set -euo pipefail

AIDLINK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="0.2.130"
# cargo-deny 0.20.2 needs rustc 1.88 (`cargo info cargo-deny`); we build it with the pinned 1.95.
CARGO_DENY_VERSION="0.20.2"

say() { printf 'setup: %s\n' "$*" >&2; }

setup_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        say "cargo not found: install Rust with rustup (https://rustup.rs), then run again"
        return 1
    fi
    # The channel rust-toolchain.toml pins: rustup does not install it by itself where
    # RUSTUP_AUTO_INSTALL=0, and every cargo call in the repository fails without it.
    local channel
    channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$AIDLINK_ROOT/rust-toolchain.toml")"
    if ! rustup run "$channel" rustc --version >/dev/null 2>&1; then
        say "installing the Rust toolchain ${channel} that rust-toolchain.toml pins (once)"
        rustup toolchain install "$channel" --profile minimal --no-self-update \
            --component rustfmt,clippy --target wasm32-unknown-unknown
    fi
    (
        cd "$AIDLINK_ROOT"
        if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
            say "adding the wasm32-unknown-unknown target"
            rustup target add wasm32-unknown-unknown
        fi
        for component in rustfmt clippy; do
            if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
                say "adding rustup component ${component}"
                rustup component add "$component"
            fi
        done
    )
    if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen ${WASM_BINDGEN_VERSION}" ]; then
        # Not --locked: the registry mirror lacks one locked dependency (CONTRIBUTING.md).
        say "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (about 2 minutes, once)"
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
    fi
    if [ "$(cargo deny --version 2>/dev/null || true)" != "cargo-deny ${CARGO_DENY_VERSION}" ]; then
        # For the `cargo deny` step of scripts/test.sh (deny.toml). --locked: its own lock file
        # builds from the registry mirror as it is. Cold, it took 22 minutes here with other
        # builds sharing the two cores; warm, this check costs nothing.
        say "installing cargo-deny ${CARGO_DENY_VERSION} (about 20 minutes cold on two busy cores, once)"
        cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION" --force
    fi
}

setup_npm() {
    local stamp="$AIDLINK_ROOT/node_modules/.package-lock.json"
    if [ ! -f "$stamp" ] || [ "$AIDLINK_ROOT/package.json" -nt "$stamp" ] \
        || { [ -f "$AIDLINK_ROOT/package-lock.json" ] && [ "$AIDLINK_ROOT/package-lock.json" -nt "$stamp" ]; }; then
        say "installing npm devDependencies"
        (cd "$AIDLINK_ROOT" && npm install --no-audit --no-fund)
    fi
}

setup_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "Chromium is missing. Install the Debian packages 'chromium' and 'chromium-driver'"
        say "(sudo apt-get install -y chromium chromium-driver), then run again."
        return 1
    fi
    say "installing chromium and chromium-driver with apt (about a minute, once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

# Firefox ESR and WebKit, the two other engines the browser suites, the smoke test and the
# end-to-end chain run in (CONTRIBUTING.md, "Running the suites"): Debian's firefox-esr, WebKit's
# WebDriver (webkit2gtk-driver, which brings MiniBrowser) and Xvfb for its window; geckodriver
# from crates.io, installed OUTSIDE PATH (the wasm test runner silently prefers Firefox whenever
# geckodriver is on PATH): scripts/browser-tests.sh and tests/support/engines.mjs find it there.
GECKODRIVER_VERSION="0.37.1"
AIDLINK_TOOLS="$HOME/.cargo/aidlink-tools"
setup_engines() {
    local missing=()
    [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
    [ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
    command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            say "missing Debian packages for the Firefox and WebKit tests: ${missing[*]}"
            say "(sudo apt-get install -y ${missing[*]}), then run again."
            return 1
        fi
        say "installing ${missing[*]} with apt (a few minutes, once)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if [ "$("$AIDLINK_TOOLS/bin/geckodriver" --version 2>/dev/null | head -n 1 | cut -d' ' -f2)" != "$GECKODRIVER_VERSION" ]; then
        say "installing geckodriver ${GECKODRIVER_VERSION} into ${AIDLINK_TOOLS}/bin, off PATH (about 3 minutes, once)"
        cargo install geckodriver --locked --version "$GECKODRIVER_VERSION" --root "$AIDLINK_TOOLS" --force
    fi
}

setup_rust
setup_npm
setup_chromium
setup_engines

export PATH="$AIDLINK_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
# Never let the wasm test runner pick Firefox by accident (CONTRIBUTING.md, "Pitfalls").
unset GECKODRIVER || true
