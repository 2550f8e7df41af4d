"""The TD Ameritrade connector's manifest: retired, pointing to ``schwab`` and how to move there.

TD Ameritrade's API was retired in May 2024 when its accounts moved to Charles Schwab. The connector stays
installed so a configuration naming it is refused with this manifest's :class:`~portico.sdk.Retirement`.
"""

from __future__ import annotations

from datetime import date

from portico.sdk import ConnectorKind, ConnectorSpec, Environment, Retirement

__all__ = ["RETIREMENT", "SPEC"]

RETIREMENT = Retirement(
    retired_on=date(2024, 5, 13),
    message=(
        "TD Ameritrade's API was retired in May 2024 and its accounts moved to Charles Schwab; "
        "configure connector 'schwab' instead (the Schwab Trader API): the TD Ameritrade consumer key becomes "
        "a Schwab app key and secret registered on Schwab's developer portal (credentials client_id and "
        "client_secret), authentication.type is schwab_oauth2 with the app's callback URL "
        "(https://127.0.0.1:8182 unless you registered another, as options.redirect_uri); sign in with "
        "`portico credentials login <system>` (again every 7 days, when Schwab's refresh token expires); "
        "the account is connection.account_number (the plain number: portico looks up the hash Schwab's "
        "API takes in its place)"
    ),
    replacements=("schwab",),
)
"""Why ``td_ameritrade`` is refused and how its configuration becomes a ``schwab`` one."""

SPEC = ConnectorSpec(
    name="td_ameritrade",
    display_name="TD Ameritrade",
    kinds=(ConnectorKind.BROKERAGE,),
    description="TD Ameritrade's API, retired in May 2024 when its accounts moved to Charles Schwab: kept "
    "only to refuse configurations naming it, with the way to the schwab connector.",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://api.tdameritrade.com/v1"},
            live_money=True,
            description="no longer answers (retired May 2024)",
        ),
    ),
    retired=RETIREMENT,
)
"""The TD Ameritrade manifest: retired, no capabilities."""
