"""POST /_emulator/seed/users: many users at once, for benchmarks (how the emulator keeps up as it fills).

`{"count": 100000, "status": "verified", "sample": 100}` stores `count` users of the calling
app in this one transaction, in chunks through `Store.insert_many` (100,000 in a few seconds,
where one POST /v2/users each would take minutes). No webhooks, no lifecycle settings applied.

The first user is made by `users.insert_user`, exactly as a create makes one; the others are
copies of it that differ only in id, name, email and phone, so every seeded user has the
shape a created one has. Phones are country code 1 and `5` followed by nine digits from a
counter that never repeats within a store (5000000001, 5000000002, ...): tests and benchmarks
creating their own users should use other numbers. The answer names the first and last ids
and, with `sample`, that many ids spread evenly over the seeded users (for random reads).
"""

from __future__ import annotations

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import users
from dots.emulator.routing import Route

SEED_MAX = 1_000_000
SAMPLE_MAX = 10_000
CHUNK = 10_000
COUNTER = "seeded_user_phone"


def seeded_phone(n: int) -> str:
    return f"5{n:09d}"


def control_seed_users(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    count = ctx.require_int(body, "count", min=1, max=SEED_MAX)
    status = ctx.optional(body, "status", "unverified", types=(str,), choices=users.USER_STATUSES)
    sample = ctx.optional_int(body, "sample", 0, min=0, max=SAMPLE_MAX)
    first_n = ctx.store.next_int_ids(COUNTER, count)
    if first_n + count - 1 > 999_999_999:
        raise ApiError(400, "invalid-input", "this store has no seeded phone numbers left")

    template = users.insert_user(
        ctx,
        first_name="Seeded",
        last_name=f"User {first_n}",
        email=f"seeded-{first_n}@example.invalid",
        country_code="1",
        phone_number=seeded_phone(first_n),
        status=status,
    )
    if status == "verified":  # as verifying one does (users._set_status), without its webhook
        template["compliance"]["id_verified"] = True
        ctx.store.put(users.USER_KIND, template["id"], template)
    ids = [template["id"]]
    chunk: list[tuple[str, Doc]] = []
    for n in range(first_n + 1, first_n + count):
        user_id = ctx.store.new_uuid()
        chunk.append(
            (
                user_id,
                {
                    **template,
                    "id": user_id,
                    "last_name": f"User {n}",
                    "email": f"seeded-{n}@example.invalid",
                    "phone_number": {"country_code": "1", "phone_number": seeded_phone(n)},
                },
            )
        )
        ids.append(user_id)
        if len(chunk) == CHUNK:
            ctx.store.insert_many(users.USER_KIND, chunk, app_id=ctx.app_id)
            chunk = []
    if chunk:
        ctx.store.insert_many(users.USER_KIND, chunk, app_id=ctx.app_id)
    step = count / sample if sample else 0
    return 201, {
        "created": count,
        "first_id": ids[0],
        "last_id": ids[-1],
        "first_phone_number": seeded_phone(first_n),
        "sample_ids": [ids[int(i * step)] for i in range(sample)],
    }


CONTROL_ROUTES = [Route("POST", "/seed/users", control_seed_users)]
