#!/bin/sh
# prebuildify calls "node-gyp rebuild --target=..." and then collects build/Release/*.node.
# cmake-js builds N-API addons against node-api-headers, so the target version does not matter.
set -e
cd "$(dirname "$0")/.."
exec node "$(node -p "require.resolve('cmake-js/bin/cmake-js')")" rebuild --log-level warn
