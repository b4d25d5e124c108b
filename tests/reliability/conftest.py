from tests.gateway.conftest import gateways as gateways  # the fixtures, shared with tests/gateway
from tests.gateway.conftest import provision as provision
