"""Who may use the console: password checks, sessions, CSRF tokens and login throttling.

* Passwords: the config holds a salted scrypt hash (:func:`hash_password`, stdlib ``hashlib.scrypt``)
  or a secret reference resolved at login; either is compared in constant time, and an unknown user
  costs the same scrypt as a known one, so timing does not tell which names exist.
* Sessions live in this process (a restart logs everyone out): the cookie holds a random token only,
  ``HttpOnly`` and ``SameSite=Strict``, ``Secure`` behind HTTPS; a login rotates the token.
* Every session has a CSRF token that every form posts back (the login form too: its session is
  an anonymous one, made when the page is shown).
* Throttling: after :data:`FREE_FAILURES` wrong passwords for one user name or one client address
  in :data:`WINDOW_SECONDS`, logins from it are refused for a lockout that doubles with each further
  failure, up to :data:`MAX_LOCKOUT_SECONDS` — even with the right password, so guessing gains nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.config import ConfigError, resolve_secret
from hub.console_settings import HASH_SCHEME, ConsoleUser

#: scrypt cost: about 50 ms a check on a small machine (OWASP's minimum is N=2**17 with r=8 for
#: new systems; N=2**14 keeps a login snappy on two shared cores and is what Django's scrypt uses)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
#: wrong passwords allowed per user name or client address in the window before a lockout
FREE_FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
FIRST_LOCKOUT_SECONDS = 30.0
MAX_LOCKOUT_SECONDS = 15 * 60.0
#: sessions kept at most: every visit of the login page makes one, so a flood of visits must not
#: grow memory without end; the anonymous ones go first, oldest first
MAX_SESSIONS = 10_000
#: the same work as a real check, for user names that do not exist
_DUMMY_HASH = f"{HASH_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'A' * 22}==${'A' * 43}="


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``password`` (what a console user's ``password_hash`` holds)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"{HASH_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_hash(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; a malformed hash never matches)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != HASH_SCHEME:
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


class Users:
    """The console's users from the config (``console.users``)."""

    def __init__(self, users: dict[str, ConsoleUser], resolve: Callable[[str], str | None] = resolve_secret) -> None:
        self._users = users
        self._resolve = resolve

    def __bool__(self) -> bool:
        return bool(self._users)

    def check(self, name: str, password: str) -> bool:
        """Whether ``name`` exists and ``password`` is its password."""
        user = self._users.get(name)
        if user is None:
            check_hash(password, _DUMMY_HASH)  # the same time as for a real user
            return False
        if user.password_hash is not None:
            return check_hash(password, user.password_hash)
        try:
            expected = self._resolve(user.password or "")
        except ConfigError:
            return False  # the secret is not set: nobody logs in as this user
        return expected is not None and hmac.compare_digest(password.encode(), expected.encode())


@dataclass
class Session:
    """One browser's session: the user once logged in, and the token its forms post back."""

    token: str
    csrf: str
    user: str | None = None
    expires: float = 0.0


class Sessions:
    """Sessions of this process by cookie token; idle ones expire."""

    def __init__(
        self, idle_seconds: float, clock: Callable[[], float] = time.monotonic, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, user: str | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, self._clock() + self.idle_seconds)
        with self._lock:
            self._sweep()
            self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle time restarted), or None."""
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is None or session.expires < self._clock():
                self._by_token.pop(token, None)
                return None
            session.expires = self._clock() + self.idle_seconds
            return session

    def end(self, token: str) -> None:
        with self._lock:
            self._by_token.pop(token, None)

    def _sweep(self) -> None:
        now = self._clock()
        for token in [t for t, s in self._by_token.items() if s.expires < now]:
            del self._by_token[token]
        over = len(self._by_token) - self.max_sessions + 1
        if over > 0:  # oldest first (dicts keep insertion order), anonymous before logged-in
            anonymous = [t for t, s in self._by_token.items() if s.user is None]
            others = [t for t, s in self._by_token.items() if s.user is not None]
            for token in (anonymous + others)[:over]:
                del self._by_token[token]


def csrf_ok(session: Session | None, posted: object) -> bool:
    """Whether a form's ``csrf`` field is its session's token (constant-time)."""
    return session is not None and isinstance(posted, str) and hmac.compare_digest(posted, session.csrf)


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class Throttle:
    """Failed logins per key (a user name, a client address): :meth:`wait` says how long a key is locked."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds until a login for ``keys`` is allowed again (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [f.locked_until - now for key in keys if (f := self._failures.get(key)) is not None]
        return max([0.0, *waits])

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > MAX_SESSIONS:  # guesses under many names: forget the stale ones
                stale = [
                    k for k, f in self._failures.items() if f.locked_until < now and now - f.times[-1] > WINDOW_SECONDS
                ]
                for key in stale:
                    del self._failures[key]
            for key in keys:
                f = self._failures.setdefault(key, _Failures())
                f.times = [t for t in f.times if now - t < WINDOW_SECONDS] + [now]
                over = len(f.times) - FREE_FAILURES
                if over >= 0:
                    f.locked_until = now + min(FIRST_LOCKOUT_SECONDS * 2**over, MAX_LOCKOUT_SECONDS)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
