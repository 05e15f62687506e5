#!/bin/sh
# Imports the data view and the saved searches of deploy/kibana/saved-search.ndjson into Kibana;
# run by the compose service kibana-setup (curl image, this folder mounted at /setup) once Kibana
# is healthy. Objects with the same ids are overwritten, so running it again is harmless.
set -eu
kibana=${KIBANA_URL:-http://kibana:5601}
here=$(cd "$(dirname "$0")" && pwd)
response=$(mktemp)
trap 'rm -f "$response"' EXIT

status=$(curl -sS -o "$response" -w '%{http_code}' -u "elastic:$ELASTIC_PASSWORD" -H 'kbn-xsrf: true' \
    -F "file=@$here/saved-search.ndjson" "$kibana/api/saved_objects/_import?overwrite=true") || status=000
if [ "$status" != 200 ] || ! grep -q '"success":true' "$response"; then
    echo "kibana-setup: import failed with HTTP $status:" >&2
    cat "$response" >&2
    echo >&2
    exit 1
fi
echo "kibana-setup: imported $(grep -o '"successCount":[0-9]*' "$response")"
