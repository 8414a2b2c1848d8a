#!/usr/bin/env bash
# Prints one fact about this checkout, read with a parser (never by scraping the text):
#   version       the customcd package's version (cargo metadata)
#   action-image  the image action.yml runs (runs.image, without docker://; PyYAML)
# For the workflows and for people; the ci/ scripts call the same lib.sh functions.
# usage: ci/facts.sh version|action-image
set -euo pipefail
SCRIPT_NAME=facts
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
case "${1:-}" in
  version) crate_version ;;
  action-image) action_image ;;
  *)
    echo "usage: ci/facts.sh version|action-image" >&2
    exit 2
    ;;
esac
