"""Pure workflow rules: the transition table, identifiers, application input."""

import itertools

import pytest

from loans.errors import ActionForbidden, InvalidApplication, TransitionNotAllowed
from loans.identifiers import credit_code_check_character, credit_code_problem, mask_phone
from loans.models import ApplicationInput, RepaymentMethod
from loans.roles import Role
from loans.states import TRANSITIONS, Action, State, actions_for, resolve

HAPPY_PATH = [
    (Action.INVITE, Role.MANAGER, State.INVITED),
    (Action.VERIFY_IDENTITY, Role.SYSTEM, State.IDENTITY_VERIFIED),
    (Action.START_INTERVIEW, Role.MANAGER, State.IN_INTERVIEW),
    (Action.SIGN_CONTRACT, Role.SYSTEM, State.CONTRACT_SIGNED),
    (Action.SUBMIT_FOR_REVIEW, Role.SYSTEM, State.UNDER_REVIEW),
    (Action.APPROVE, Role.COMPLIANCE, State.APPROVED),
]


def test_happy_path_reaches_approved() -> None:
    state = State.DRAFT
    for action, role, expected in HAPPY_PATH:
        state = resolve(state, action, role)
        assert state is expected


def test_flagged_review_returns_to_the_manager_and_can_be_resubmitted() -> None:
    state = resolve(State.UNDER_REVIEW, Action.FLAG, Role.COMPLIANCE)
    assert state is State.FLAGGED
    assert Action.RESUBMIT in actions_for(state, Role.MANAGER)
    assert resolve(state, Action.RESUBMIT, Role.MANAGER) is State.UNDER_REVIEW


def test_every_pair_outside_the_table_is_refused() -> None:
    refused = 0
    for state, action in itertools.product(State, Action):
        if (state, action) in TRANSITIONS:
            continue
        for role in Role:
            with pytest.raises(TransitionNotAllowed):
                resolve(state, action, role)
            refused += 1
    assert refused > 400


def test_roles_not_in_a_rule_are_forbidden() -> None:
    for (state, action), rule in TRANSITIONS.items():
        for role in set(Role) - rule.roles:
            with pytest.raises(ActionForbidden):
                resolve(state, action, role)


def test_terminal_states_have_no_way_out_and_reviews_are_compliance_only() -> None:
    for state in (State.APPROVED, State.REJECTED, State.CANCELLED):
        assert all(src != state for src, _ in TRANSITIONS)
    for (_, action), rule in TRANSITIONS.items():
        if action in (Action.APPROVE, Action.REJECT, Action.FLAG):
            assert rule.roles == {Role.COMPLIANCE}
        assert Role.ADMIN not in rule.roles
        assert Role.APPLICANT not in rule.roles


# The first is the worked example of GB 32100-2015 itself.
@pytest.mark.parametrize("code", ["91350100M000100Y43", "12100000400000624D"])
def test_valid_credit_codes(code: str) -> None:
    assert credit_code_check_character(code[:17]) == code[17]
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100I43", "not allowed"),
        ("91350100m000100Y43", "not allowed"),
    ],
)
def test_invalid_credit_codes(code: str, why: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None and why in problem


GOOD = {
    "company_name": " 示例科技  有限公司 ",
    "credit_code": "91350100m000100y43",
    "legal_rep_name": "张三",
    "legal_rep_phone": "13800138000",
    "loan_amount": "150000.5",
    "term_months": 12,
    "annual_rate_percent": "3.85",
    "repayment_method": "equal_principal",
}


def test_application_input_normalises_and_converts_exactly() -> None:
    data = ApplicationInput.parse(**GOOD)  # type: ignore[arg-type]
    assert data.company_name == "示例科技 有限公司"
    assert data.credit_code == "91350100M000100Y43"
    assert data.amount_fen == 15_000_050
    assert data.annual_rate_ppm == 38_500
    assert data.repayment_method is RepaymentMethod.EQUAL_PRINCIPAL


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("company_name", "x"),
        ("company_name", "公司\x00名"),
        ("credit_code", "91350100M000100Y44"),
        ("legal_rep_name", "张"),
        ("legal_rep_phone", "12800138000"),
        ("legal_rep_phone", "1380013800"),
        ("loan_amount", "0"),
        ("loan_amount", "-5"),
        ("loan_amount", "1.001"),
        ("loan_amount", "NaN"),
        ("loan_amount", "1e400"),
        ("loan_amount", "abc"),
        ("loan_amount", "100000000.01"),
        ("term_months", 0),
        ("term_months", 361),
        ("annual_rate_percent", "24.0001"),
        ("annual_rate_percent", "0"),
        ("annual_rate_percent", "3.12345"),
        ("repayment_method", "balloon"),
    ],
)
def test_each_bad_field_is_named(field: str, value: object) -> None:
    with pytest.raises(InvalidApplication) as caught:
        ApplicationInput.parse(**{**GOOD, field: value})  # type: ignore[arg-type]
    assert set(caught.value.fields) == {field}


def test_phone_masking() -> None:
    assert mask_phone("13800138000") == "138****8000"
