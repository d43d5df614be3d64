# Sourced by the scripts in pipelines/kafka/. Resolves the programs they run:
#   CREDTRAIL  credtrail binary (absolute path), else `credtrail` on PATH
#   KCAT       kcat on librdkafka >= 2.2, else `kcat-modern` (installed by .ci/install-kafka), else `kcat`
#   TANSU      tansu broker binary, else `tansu` on PATH or in ~/.cargo/bin
# and the broker address BROKER (host:port).

CREDTRAIL=${CREDTRAIL:-credtrail}
if [ -z "${KCAT:-}" ]; then
    if command -v kcat-modern >/dev/null 2>&1; then KCAT=kcat-modern; else KCAT=kcat; fi
fi
if [ -z "${TANSU:-}" ]; then
    if command -v tansu >/dev/null 2>&1; then TANSU=tansu
    elif [ -x "$HOME/.cargo/bin/tansu" ]; then TANSU="$HOME/.cargo/bin/tansu"
    else TANSU=tansu; fi
fi
TOPIC=${TOPIC:-cloudtrail}
ALERTS_TOPIC=${ALERTS_TOPIC-cloudtrail-alerts}

# Producer settings shared by every `kcat -P` here (see README "Settings that lose records"):
#   enable.idempotence=true  retries can neither duplicate nor reorder records within a partition
#                            (librdkafka's default allows 1,000,000 requests in flight, no idempotence)
#   message.max.bytes        librdkafka refuses a record over 1,000,000 bytes by default
#   partitioner              CRC32 of the key (librdkafka's default); every producer of the topic
#                            must use the same one, or one instance's records split across partitions
PRODUCER_OPTS=(-X enable.idempotence=true -X message.max.bytes=16777216 -X partitioner=consistent_random)

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
