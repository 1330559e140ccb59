"""The account of a function's calls without C: carried from process to process beside the
stored function, written once per ``WRITE_EVERY_SECONDS`` of calls, gone when the rental
ends, and never in the way where it cannot be read or written."""

import json

import pytest

from pmfisher._core.compiled import upgrade_rent
from pmfisher._core.compiled.upgrade_rent import Rent


@pytest.fixture
def stored(tmp_path):
    """Where a function is stored, and where its account goes."""
    function = tmp_path / "0123abcd.pkl"
    return function, tmp_path / "0123abcd.rent.json"


def test_a_new_function_starts_at_nothing_and_its_account_lies_beside_it(stored):
    function, account = stored
    rent = Rent.beside(function)
    assert (rent.path, rent.calls, rent.seconds) == (account, 0, 0.0)


def test_the_calls_of_an_earlier_process_are_carried_into_the_next(stored, monkeypatch):
    monkeypatch.setattr(upgrade_rent, "WRITE_EVERY_SECONDS", 1.0)
    function, account = stored
    first = Rent.beside(function)
    first.add(0.6)
    assert not account.exists()  # under a second of calls: not written yet
    first.add(0.6)
    assert json.loads(account.read_text()) == {"calls": 2, "seconds": 1.2}
    first.add(0.3)  # 0.3 s since the last write: kept in this process only
    later = Rent.beside(function)
    assert (later.calls, later.seconds) == (2, 1.2)
    later.add(1.0)
    assert (later.calls, later.seconds) == (3, 2.2)
    assert json.loads(account.read_text()) == {"calls": 3, "seconds": 2.2}


def test_the_account_goes_when_the_rental_ends(stored, monkeypatch):
    monkeypatch.setattr(upgrade_rent, "WRITE_EVERY_SECONDS", 0.0)
    function, account = stored
    rent = Rent.beside(function)
    rent.add(0.1)
    assert account.exists()
    rent.close()
    assert not account.exists()
    rent.close()  # twice, or with no account written: nothing to do


@pytest.mark.parametrize("content", ["", "{", '{"calls": 2}', '{"calls": "x", "seconds": 1}'])
def test_an_unreadable_account_starts_the_rental_again(stored, content):
    function, account = stored
    account.write_text(content)
    rent = Rent.beside(function)
    assert (rent.calls, rent.seconds) == (0, 0.0)


def test_a_function_that_is_not_stored_counts_in_this_process_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(upgrade_rent, "WRITE_EVERY_SECONDS", 0.0)
    rent = Rent.beside(None)
    rent.add(2.0)
    rent.close()
    assert (rent.path, rent.calls, rent.seconds) == (None, 1, 2.0)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_written_keeps_the_count_in_the_process(tmp_path, monkeypatch):
    monkeypatch.setattr(upgrade_rent, "WRITE_EVERY_SECONDS", 0.0)
    rent = Rent.beside(tmp_path / "gone" / "0123abcd.pkl")  # its directory does not exist
    rent.add(1.5)
    assert (rent.calls, rent.seconds) == (1, 1.5)
