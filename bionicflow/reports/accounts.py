"""Demo accounts of the embedded development issuer (DEMO ONLY: the brief's password pattern).

Customers own a CRM user with a fixed user_uuid, so their reports exist after `demo_data`
(which inserts these users when missing); the analyst may read every report.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID, uuid5

from bionicflow.kernel.errors import BionicflowError

# Fixed namespace: the same customer always maps to the same user_uuid, on every machine.
CUSTOMER_NAMESPACE = UUID("6f1c2d3e-8b7a-4c55-9e21-b10f10f1000d")
CUSTOMER = "customer"
ANALYST = "analyst"
# PBKDF2-SHA256 (standard library), ~35 ms a check: a password is checked the same way, at the
# same cost, whether the account exists or not, so the answer's timing does not tell which.
HASH_ITERATIONS = 100_000


class LoginFailed(BionicflowError):
    """Wrong user name or password: deliberately not saying which."""


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
ROLES = frozenset({CUSTOMER, ANALYST})


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, HASH_ITERATIONS)


@lru_cache(maxsize=1)
def _password_hashes() -> tuple[bytes, dict[str, bytes], bytes]:
    """A salt, every account's password hash and a dummy hash (for unknown names), made once per process.

    All at once: hashing an account's password on its first log-in would make that log-in slower
    than an unknown name's, and tell that the account exists.
    """
    salt = os.urandom(16)
    hashes = {name: _hash(account.demo_password, salt) for name, account in ACCOUNTS.items()}
    return salt, hashes, _hash(os.urandom(16).hex(), salt)


def authenticate(username: str, password: str) -> Account:
    """The account these credentials open; LoginFailed (the same for an unknown name) otherwise."""
    salt, hashes, dummy = _password_hashes()
    given = _hash(password, salt)  # always computed: an unknown name costs what a wrong password does
    matches = hmac.compare_digest(given, hashes.get(username, dummy))
    account = ACCOUNTS.get(username)
    if account is None or not matches:
        raise LoginFailed("wrong user name or password")
    return account
