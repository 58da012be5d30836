#!/usr/bin/env bash
# Runs the wasm-bindgen browser suites (tests/browser.rs, tests/browser_edges.rs) in one engine:
#   bash scripts/browser-tests.sh chromium|firefox|webkit [--quick] [extra test-runner args]
# chromium: Debian's chromium through chromedriver (what `cargo test -p aidlink --target
#   wasm32-unknown-unknown` uses after `. scripts/setup.sh`);
# firefox: Debian's firefox-esr through geckodriver, which setup.sh keeps OUTSIDE PATH
#   (the test runner silently prefers Firefox whenever geckodriver is on PATH), with the
#   capabilities of tests/webdriver/firefox.json;
# webkit: WebKitGTK's MiniBrowser through WebKitWebDriver (the runner's "safari" kind, which
#   sends no capabilities: WebKitWebDriver's default browser is MiniBrowser --automation),
#   under an Xvfb display started here when none is set.
# --quick skips the one test that is pure timing, the same in every engine (the throttle after
# the first minute: 61 s of waiting), so the slower engines add little to `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${1:-}"
shift || true
skip=()
if [ "${1:-}" = "--quick" ]; then
    skip=(--skip after_the_first_minute_page_events_check_at_most_every_5_s)
    shift
fi

# Only the driver of this engine may be set: the runner picks GECKODRIVER over SAFARIDRIVER
# over CHROMEDRIVER.
unset CHROMEDRIVER GECKODRIVER SAFARIDRIVER GECKODRIVER_REMOTE SAFARIDRIVER_REMOTE CHROMEDRIVER_REMOTE
xvfb_pid=""
cleanup() {
    if [ -n "$xvfb_pid" ]; then
        kill "$xvfb_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

case "$engine" in
    chromium)
        export CHROMEDRIVER="${AIDLINK_CHROMEDRIVER:-/usr/bin/chromedriver}"
        ;;
    firefox)
        export GECKODRIVER="${AIDLINK_GECKODRIVER:-$HOME/.cargo/aidlink-tools/bin/geckodriver}"
        export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/webdriver/firefox.json"
        ;;
    webkit)
        export SAFARIDRIVER="${AIDLINK_WEBKITDRIVER:-/usr/bin/WebKitWebDriver}"
        if [ -z "${DISPLAY:-}" ]; then
            # The first free display from :90: Xvfb exits at once when one is taken, and
            # creates its socket when it is ready.
            for n in $(seq 90 139); do
                [ -e "/tmp/.X11-unix/X$n" ] && continue
                Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
                xvfb_pid=$!
                for _ in $(seq 50); do
                    if [ -e "/tmp/.X11-unix/X$n" ] || ! kill -0 "$xvfb_pid" 2>/dev/null; then
                        break
                    fi
                    sleep 0.1
                done
                if kill -0 "$xvfb_pid" 2>/dev/null && [ -e "/tmp/.X11-unix/X$n" ]; then
                    export DISPLAY=":$n"
                    break
                fi
                kill "$xvfb_pid" 2>/dev/null || true
                xvfb_pid=""
            done
            if [ -z "${DISPLAY:-}" ]; then
                echo "browser-tests: no free X display for Xvfb between :90 and :139" >&2
                exit 1
            fi
        fi
        ;;
    *)
        echo "usage: bash scripts/browser-tests.sh chromium|firefox|webkit [--quick] [test-runner args]" >&2
        exit 2
        ;;
esac

status=0
for suite in browser browser_edges; do
    cargo test -p aidlink --target wasm32-unknown-unknown --test "$suite" -- "${skip[@]}" "$@" || status=$?
done
exit "$status"
