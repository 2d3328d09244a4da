"""Why a document check passed or failed: machine-readable reasons with English text.

A check carries its reason and the values the text names; the pages translate
``check_reason_<reason>`` from web/locale and fill the same values, so a manager
reads the check in their language. The English here is what the API, the CLI and
the evidence package say.
"""

from __future__ import annotations

from kyc.idnumber import ID_NUMBER_PROBLEMS
from loans.identifiers import CREDIT_CODE_PROBLEMS

CHECK_REASONS: dict[str, str] = {
    **ID_NUMBER_PROBLEMS,
    **CREDIT_CODE_PROBLEMS,
    "id_number_missing": "no ID number could be read",
    "id_number_check_character_matches": "check character matches",
    "birth_date_matches": "birth date agrees with the ID number",
    "birth_date_differs": "printed birth date {printed} differs from the one in the ID number",
    "sex_matches": "sex agrees with the ID number",
    "sex_differs": "printed sex {printed} but the ID number says {encoded}",
    "card_valid": "the card is valid",
    "card_expired": "the card expired on {until}",
    "name_matches": "name matches the legal representative in the application",
    "name_differs": "the card's name {read} is not the legal representative {expected}",
    "licence_registration_number_only": "the licence shows a registration number (注册号), "
    "not a unified social credit code: an old licence replaced since 2017; ask for the "
    "current one",
    "credit_code_missing": "no credit code could be read",
    "credit_code_check_character_matches": "check character matches",
    "company_name_matches": "company name matches the application",
    "company_name_differs": "the licence's company name {read} is not {expected} as in the "
    "application",
    "credit_code_matches": "credit code matches the application",
    "credit_code_differs": "the licence's credit code {read} is not {expected} as in the "
    "application",
    "legal_representative_matches": "legal representative matches the application",
    "legal_representative_differs": "the licence's legal representative {read} is not "
    "{expected} as in the application",
    "identity_source_match": "the identity platform confirms that the legal representative "
    "holds this ID number",
    "identity_source_mismatch": "the identity platform says this ID number is not the legal "
    "representative's",
    "identity_source_not_found": "the identity platform has no record of this ID number",
    "identity_source_unavailable": "the identity platform could not be asked; upload the card "
    "again to ask again",
    "registry_not_found": "the business registry has no company under this credit code",
    "registry_unavailable": "the business registry could not be asked; upload the licence "
    "again to ask again",
    "registry_in_business": "the registry lists the company as {status}",
    "registry_not_in_business": "the registry lists the company as {status}: not in business",
    "registry_company_name_matches": "company name matches the registry",
    "registry_company_name_differs": "the licence reads {read}, the registry has {registered}",
    "registry_legal_representative_matches": "legal representative matches the registry",
    "registry_legal_representative_differs": "the licence's legal representative is {read}, "
    "the registry has {registered}",
}
