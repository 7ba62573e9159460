#!/bin/sh
# Reproduces the official redis image's entrypoint: options or a *.conf as first argument mean
# redis-server; when started as root it chowns the working directory (/data) to redis and
# re-executes itself as redis (setpriv here, gosu in the official image).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# Private files by default (the official image does the same).
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi

exec "$@"
