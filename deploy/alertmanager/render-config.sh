#!/bin/sh
# Writes an Alertmanager configuration from a template, taking the Discord webhook URL from a
# secret file so it is never committed (Alertmanager 0.25 cannot read it from a file itself).
#
#   render-config.sh TEMPLATE URL_FILE OUTPUT [NAME=VALUE ...]
#
# Replaces @DISCORD_WEBHOOK_URL@ with the file's first line and each @NAME@ with VALUE, then
# refuses to write a configuration that still holds a placeholder. POSIX sh and sed only, so it
# runs in the prom/alertmanager image (busybox) as well as on Debian. In the compose stack:
#   sh /etc/alertmanager/render-config.sh /etc/alertmanager/alertmanager.yml.tmpl \
#      /etc/alertmanager/secrets/discord-webhook-url /tmp/alertmanager.yml \
#   && exec /bin/alertmanager --config.file=/tmp/alertmanager.yml --storage.path=/alertmanager
set -eu

if [ "$#" -lt 3 ]; then
    echo "usage: $0 TEMPLATE URL_FILE OUTPUT [NAME=VALUE ...]" >&2
    exit 2
fi
template=$1 url_file=$2 output=$3
shift 3

[ -r "$template" ] || { echo "render-config: cannot read the template $template" >&2; exit 1; }
[ -r "$url_file" ] || { echo "render-config: cannot read the webhook URL file $url_file" >&2; exit 1; }

# First line, without a trailing CR or spaces.
url=$(sed -n '1{s/[[:space:]]*$//;p;q;}' "$url_file")
case $url in
    http://*|https://*) ;;
    *) echo "render-config: $url_file does not start with an http(s) URL" >&2; exit 1 ;;
esac
# The URL goes into a single-quoted YAML string and a sed replacement: refuse the characters
# that would break either (a Discord webhook URL has none of them).
case $url in
    *[\'\"\\\|[:space:]]*) echo "render-config: the URL in $url_file holds a quote, backslash, bar or space" >&2; exit 1 ;;
esac

escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

script="s|@DISCORD_WEBHOOK_URL@|$(escape "$url")|g"
for pair in "$@"; do
    name=${pair%%=*}
    value=${pair#*=}
    case $name in
        ''|*[!A-Z0-9_]*) echo "render-config: bad placeholder name in $pair (want NAME=VALUE, NAME in A-Z0-9_)" >&2; exit 2 ;;
    esac
    case $value in
        *"
"*) echo "render-config: the value of $name holds a newline" >&2; exit 2 ;;
    esac
    script="$script
s|@${name}@|$(escape "$value")|g"
done

umask 077
tmp="$output.tmp.$$"
trap 'rm -f "$tmp"' EXIT
sed -e "$script" "$template" > "$tmp"
if left=$(grep -v '^[[:space:]]*#' "$tmp" | grep -o '@[A-Z0-9_]*@' | sort -u | tr '\n' ' ') && [ -n "$left" ]; then
    echo "render-config: placeholders left unfilled in $template: $left" >&2
    exit 1
fi
mv "$tmp" "$output"
trap - EXIT
