#!/bin/sh
# nginx entrypoint hook (mounted into /docker-entrypoint.d/ by docker-compose.yml) for
# TLS_MODE=acme, where the certificate renewer is another container: nginx cannot be signalled
# from there, so nginx watches the certificate itself. It waits for the first file (the renewer's
# placeholder, written before anything is ordered) so that nginx can start, then reloads
# gracefully (nginx -s reload: new workers, in-flight requests finish) whenever the file is
# replaced (the renewer installs by rename: a new inode). Off unless TLS_RELOAD_ON_CHANGE=on.
set -eu
[ "${TLS_RELOAD_ON_CHANGE:-off}" = on ] || exit 0
waited=0
until [ -s "$TLS_CERT" ] && [ -s "$TLS_KEY" ]; do
    if [ "$waited" -ge 120 ]; then
        echo "$0: no certificate at $TLS_CERT after 120 s (is the acme service running?)" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
stamp() { stat -c '%i %Y' "$TLS_CERT" 2>/dev/null || echo gone; }
(
    last=$(stamp)
    while sleep 5; do
        now=$(stamp)
        if [ "$now" != "$last" ] && [ "$now" != gone ]; then
            last=$now
            nginx -s reload && echo "$0: the certificate changed: nginx reloaded"
        fi
    done
) &
