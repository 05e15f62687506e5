#!/bin/sh
# Puts the storage of Vitrine's logs in place in Elasticsearch; run by the compose service es-setup
# (curl image, this folder mounted at /setup) once Elasticsearch is healthy. Every step is a PUT
# of the whole object, so running it again changes nothing. Needs ELASTIC_PASSWORD,
# KIBANA_SYSTEM_PASSWORD and FLUENT_BIT_ES_PASSWORD (letters and digits).
#   1. the ILM policy vitrine-logs (ilm-policy.json)
#   2. the index template vitrine-logs (index-template.json): the data stream and its mappings
#   3. the password of Kibana's built-in user kibana_system
#   4. the role vitrine_logs_writer and the user fluent_bit, who may only add documents to
#      vitrine-logs* (and create the data stream on the first write)
set -eu
es=${ES_URL:-http://elasticsearch:9200}
here=$(cd "$(dirname "$0")" && pwd)
response=$(mktemp)
trap 'rm -f "$response"' EXIT

# request METHOD PATH FILE: sends FILE ("-" for standard input) as the JSON body; stops on any
# answer but 2xx, printing Elasticsearch's reason.
request() {
    status=$(curl -sS -o "$response" -w '%{http_code}' -u "elastic:$ELASTIC_PASSWORD" \
        -X "$1" -H 'Content-Type: application/json' --data-binary "@$3" "$es$2") || status=000
    case $status in
        2??) echo "es-setup: $1 $2: $status" ;;
        *) echo "es-setup: $1 $2 failed with HTTP $status:" >&2; cat "$response" >&2; echo >&2; exit 1 ;;
    esac
}

tries=0
until curl -fsS -o /dev/null -u "elastic:$ELASTIC_PASSWORD" "$es/_cluster/health?wait_for_status=yellow&timeout=5s"; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "es-setup: Elasticsearch at $es did not answer" >&2; exit 1; }
    sleep 5
done

request PUT /_ilm/policy/vitrine-logs "$here/ilm-policy.json"
request PUT /_index_template/vitrine-logs "$here/index-template.json"
printf '{"password": "%s"}' "$KIBANA_SYSTEM_PASSWORD" | request POST /_security/user/kibana_system/_password -
printf '%s' '{"cluster": ["monitor"], "indices": [{"names": ["vitrine-logs*"], "privileges": ["create_doc", "auto_configure"]}]}' \
    | request PUT /_security/role/vitrine_logs_writer -
printf '{"password": "%s", "roles": ["vitrine_logs_writer"], "full_name": "fluent-bit, shipping Vitrine logs"}' "$FLUENT_BIT_ES_PASSWORD" \
    | request PUT /_security/user/fluent_bit -
echo "es-setup: done"
