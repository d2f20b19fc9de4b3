"""``Secret`` is masked in every printable form, including inside Scores that go to the journal."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest
from pydantic import BaseModel

from harmony.config import MASK, Secret
from harmony.domain.score import score_adapter
from harmony.domain.secret import REVEAL, SecretAsTextError
from harmony.modules.files import ManagedFile

CLEAR = "pa55-Word-7781"


class Holder(BaseModel):
    password: Secret


def test_every_printable_form_is_masked() -> None:
    s = Secret(CLEAR)
    forms = [repr(s), f"{s!r}", str([s]), str({"k": s}), s.masked]
    for form in forms:
        assert CLEAR not in form
        assert MASK in form
    assert s.reveal() == CLEAR


@pytest.mark.parametrize(
    "as_text",
    [str, lambda s: f"{s}", lambda s: f"password={s}\n", lambda s: format(s, ">20"), lambda s: "%s" % s],  # noqa: UP031
    ids=["str", "f-string", "f-string in a file", "format", "percent"],
)
def test_a_secret_never_becomes_its_mask_as_text_by_accident(as_text: Callable[[Secret], str]) -> None:
    with pytest.raises(SecretAsTextError, match=r"expected Secret\.render\(template, name=secret\)"):
        as_text(Secret(CLEAR))
    assert Secret.render("password=$p\n", p=Secret(CLEAR)).reveal() == f"password={CLEAR}\n"


def test_pydantic_dumps_are_masked_unless_revealed_on_purpose() -> None:
    h = Holder(password=Secret(CLEAR))
    assert h.model_dump() == {"password": MASK}
    assert CLEAR not in h.model_dump_json()
    assert CLEAR not in repr(h)
    assert CLEAR not in str(h)
    revealed = h.model_dump_json(context=REVEAL)
    assert json.loads(revealed) == {"password": {"secret": CLEAR, "masked": MASK}}
    assert Holder.model_validate_json(revealed) == h
    assert Holder.model_validate({"password": CLEAR}).password == Secret(CLEAR)


def test_secret_is_not_picklable() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(CLEAR))


def test_render_masks_only_the_secrets() -> None:
    s = Secret.render("user=$user pw=${pw}\n", user="app", pw=Secret(CLEAR))
    assert s.reveal() == f"user=app pw={CLEAR}\n"
    assert s.masked == f"user=app pw={MASK}\n"
    with pytest.raises(KeyError, match="missing"):
        Secret.render("$missing")


def test_a_score_holding_a_secret_is_masked_in_its_journal_form() -> None:
    score = ManagedFile(path=PurePosixPath("/etc/app.conf"), content=Secret.render("pw=$pw", pw=Secret(CLEAR)))
    spec = score.model_dump_json()  # exactly what the Maestro journals
    assert CLEAR not in spec
    assert json.loads(spec)["content"] == f"pw={MASK}"
    assert CLEAR not in repr(score)
    # check's round trip keeps the value in memory
    adapter = score_adapter()
    assert adapter.validate_json(adapter.dump_json(score, context=REVEAL)) == score


def test_equality_is_by_value_and_never_with_str() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1


def test_copies_are_the_same_immutable_value() -> None:
    import copy

    s = Secret(CLEAR)
    assert copy.copy(s) is s
    assert copy.deepcopy({"k": s})["k"] is s
    score = ManagedFile(path=PurePosixPath("/x"), content=s)
    assert score.model_copy(deep=True) == score
