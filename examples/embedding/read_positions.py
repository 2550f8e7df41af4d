"""Connect to a broker (its mock), buy, and read the account and positions: the synchronous facade."""

from __future__ import annotations

import uuid

from portico import Integration

CONFIG = {
    "systems": {
        "alpaca_paper": {
            "type": "brokerage",
            "connector": "alpaca",
            "environment": "paper",
            "mock": True,
            "authentication": {
                "type": "api_key_pair",
                "credentials": {"api_key_id": "demo-key", "api_secret_key": "demo-secret"},
            },
        }
    },
    "monitoring": {"log_level": "WARNING", "log_format": "console"},
}

# The mock starts empty on every run while PORTICO_HOME keeps the stored order intents, and a business
# key names one intent: each run of this script is a new intent, so its keys carry the run's id.
RUN = uuid.uuid4().hex[:8]


def main() -> None:
    with Integration(CONFIG) as integration:
        status = integration.get_external_system_status("alpaca_paper")
        print(f"{status.system_id}: {status.state} ({status.environment}) at {status.urls['trading']}")

        integration.place_external_order(
            "alpaca_paper", {"symbol": "AAPL", "side": "buy", "quantity": "12"}, idempotency_key=f"example-buy-aapl-{RUN}"
        )
        for position in integration.get_external_positions("alpaca_paper"):
            print(f"{position.symbol:6} {position.quantity:>8} @ {position.average_cost}  value {position.market_value}")

        account = integration.get_external_account("alpaca_paper")
        print(f"account {account.account_id}: cash {account.cash}, buying power {account.buying_power}")
        metrics = integration.get_integration_metrics("alpaca_paper")
        print(f"calls so far: {metrics.get('requests', metrics.get('request_count'))}, breaker {metrics['breaker_state']}")


if __name__ == "__main__":
    main()
