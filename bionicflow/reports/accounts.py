"""Demo accounts of the embedded development issuer (DEMO ONLY: the brief's password pattern).

Customers own a CRM user with a fixed user_uuid, so their reports exist after `demo_data`
(which inserts these users when missing); the analyst may read every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid5

# Fixed namespace: the same customer always maps to the same user_uuid, on every machine.
CUSTOMER_NAMESPACE = UUID("6f1c2d3e-8b7a-4c55-9e21-b10f10f1000d")
CUSTOMER = "customer"
ANALYST = "analyst"


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    user_uuid: str | None  # the CRM user a customer may read; None for analysts

    @property
    def demo_password(self) -> str:
        return f"{self.username}_password"


def customer_uuid(username: str) -> str:
    return str(uuid5(CUSTOMER_NAMESPACE, username))


ACCOUNTS = {a.username: a for a in (
    *(Account(f"customer{n}", CUSTOMER, customer_uuid(f"customer{n}")) for n in (1, 2, 3)),
    Account("analyst", ANALYST, None),
)}
CUSTOMERS = [a for a in ACCOUNTS.values() if a.role == CUSTOMER]
