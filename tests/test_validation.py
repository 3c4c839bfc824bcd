"""Parameter checks: each refuses what a notebook parameter or library argument must not accept."""

from __future__ import annotations

import pytest

from nngeom.core.validation import ParameterError, check_bool, check_choice, check_positive_int, check_value_range


@pytest.mark.parametrize("value", [True, False])
def test_check_bool_accepts_bools(value):
    assert check_bool("flag", value) is value


@pytest.mark.parametrize("value", [0, 1, "True", None, 1.0])
def test_check_bool_refuses_what_only_compares_equal(value):
    # 1 == True, so check_choice(name, 1, [True, False]) would let an int through
    with pytest.raises(ParameterError, match="'flag' must be True or False"):
        check_bool("flag", value)


def test_check_choice_and_positive_int_name_the_parameter():
    with pytest.raises(ParameterError, match="'mode'.*one of 'a', 'b'"):
        check_choice("mode", "c", ["a", "b"])
    with pytest.raises(ParameterError, match="'n'.*positive integer"):
        check_positive_int("n", True)


def test_check_value_range_takes_one_finite_increasing_pair():
    assert check_value_range("value_range", (-1, 1)) == (-1.0, 1.0)
    assert check_value_range("value_range", [0.0, 0.5]) == (0.0, 0.5)
    for bad in [(1.0, 1.0), (1.0, -1.0), (0.0, float("inf")), (0.0, float("nan")), 1.0, (0.0, 1.0, 2.0), ("0", 1.0),
                (True, 2.0)]:  # fmt: skip
        with pytest.raises(ParameterError, match="'value_range'"):
            check_value_range("value_range", bad)
