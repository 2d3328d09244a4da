"""zh-CN and English text for the pages. Both catalogues hold the same keys."""

from __future__ import annotations

from aiohttp import web

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "signroom_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app_name": "远程签约室",
        "switch_language": "English",
        "login_title": "员工登录",
        "username": "用户名",
        "password": "密码",
        "login": "登录",
        "logout": "退出",
        "login_failed": "用户名或密码错误",
        "too_many_attempts": "尝试次数过多，请稍后再试",
        "dashboard": "我的申请",
        "new_application": "新建申请",
        "company_name": "企业名称",
        "credit_code": "统一社会信用代码",
        "legal_rep_name": "法定代表人",
        "legal_rep_phone": "法定代表人手机号",
        "loan_amount": "贷款金额（元）",
        "term_months": "期限（月）",
        "annual_rate": "年利率（%）",
        "repayment_method": "还款方式",
        "equal_instalment": "等额本息",
        "equal_principal": "等额本金",
        "create": "创建",
        "state": "状态",
        "created_at": "创建时间",
        "open": "打开",
        "no_applications": "暂无申请",
        "application": "贷款申请",
        "invites": "邀请链接",
        "create_invite": "生成邀请链接",
        "revoke": "撤销",
        "expires_at": "有效期至",
        "invite_status_active": "有效",
        "invite_status_expired": "已过期",
        "invite_status_revoked": "已撤销",
        "invite_link_once": "请把此链接或二维码发给申请人。链接只显示这一次。",
        "actions": "操作",
        "comment": "说明",
        "audit_trail": "审计记录",
        "compliance_queue": "合规审核",
        "all_states": "全部状态",
        "filter": "筛选",
        "users": "员工账户",
        "add_user": "添加员工",
        "display_name": "姓名",
        "role": "角色",
        "role_manager": "客户经理",
        "role_compliance": "合规审核",
        "role_admin": "管理员",
        "disabled": "已停用",
        "disable": "停用",
        "enable": "启用",
        "reset_password": "重置密码",
        "new_password_once": "新密码（只显示一次）：",
        "applicant_welcome": "您好，{company}",
        "applicant_intro": "本行将通过视频远程为您办理贷款。开始之前，请阅读并同意以下事项。",
        "loan_summary": "贷款概要",
        "consent_recording": "我同意本次视频面谈全程录音录像，并由银行保存。",
        "consent_data_use": "我同意银行为核实身份、签订合同和合规审查，"
        "收集和使用我的身份证件、人脸图像及企业信息。",
        "agree_continue": "同意并继续",
        "consent_needed": "请勾选以上两项后继续",
        "consent_done": "已记录您的同意。",
        "next_steps": "下一步：证件拍摄、活体检测和视频面谈。您的客户经理会与您联系。",
        "invite_invalid_title": "链接不可用",
        "invite_invalid": "此链接已失效或已被撤销，请联系您的客户经理获取新链接。",
        "no_session_title": "请从邀请链接进入",
        "no_session": "请使用客户经理发给您的邀请链接打开本页面。",
        "error_title": "出错了",
        "not_found": "页面不存在",
        "forbidden": "您无权访问此页面",
        "step": "第 {n} 步，共 {total} 步",
        "working": "处理中…",
        "page_prev": "上一页",
        "page_next": "下一页",
        "state_draft": "草稿",
        "state_invited": "已邀请",
        "state_identity_verified": "身份已核验",
        "state_in_interview": "面谈中",
        "state_contract_signed": "已签约",
        "state_under_review": "审核中",
        "state_flagged": "退回",
        "state_approved": "已批准",
        "state_rejected": "已拒绝",
        "state_cancelled": "已取消",
        "state_expired": "已过期",
        "action_cancel": "取消申请",
        "action_start_interview": "开始面谈",
        "action_interrupt_interview": "中断面谈",
        "action_submit_for_review": "提交审核",
        "action_approve": "批准",
        "action_reject": "拒绝",
        "action_flag": "退回客户经理",
        "action_resubmit": "重新提交审核",
    },
    "en": {
        "app_name": "signroom",
        "switch_language": "中文",
        "login_title": "Staff sign-in",
        "username": "Username",
        "password": "Password",
        "login": "Sign in",
        "logout": "Sign out",
        "login_failed": "Wrong username or password",
        "too_many_attempts": "Too many attempts; try again later",
        "dashboard": "My applications",
        "new_application": "New application",
        "company_name": "Company name",
        "credit_code": "Unified social credit code",
        "legal_rep_name": "Legal representative",
        "legal_rep_phone": "Legal representative's mobile",
        "loan_amount": "Loan amount (CNY)",
        "term_months": "Term (months)",
        "annual_rate": "Annual rate (%)",
        "repayment_method": "Repayment method",
        "equal_instalment": "Equal instalments",
        "equal_principal": "Equal principal",
        "create": "Create",
        "state": "State",
        "created_at": "Created",
        "open": "Open",
        "no_applications": "No applications yet",
        "application": "Loan application",
        "invites": "Invite links",
        "create_invite": "Create invite link",
        "revoke": "Revoke",
        "expires_at": "Expires",
        "invite_status_active": "active",
        "invite_status_expired": "expired",
        "invite_status_revoked": "revoked",
        "invite_link_once": "Send this link or QR code to the applicant. It is shown only once.",
        "actions": "Actions",
        "comment": "Reason",
        "audit_trail": "Audit trail",
        "compliance_queue": "Compliance review",
        "all_states": "All states",
        "filter": "Filter",
        "users": "Staff accounts",
        "add_user": "Add staff member",
        "display_name": "Name",
        "role": "Role",
        "role_manager": "Account manager",
        "role_compliance": "Compliance reviewer",
        "role_admin": "Administrator",
        "disabled": "disabled",
        "disable": "Disable",
        "enable": "Enable",
        "reset_password": "Reset password",
        "new_password_once": "New password (shown once):",
        "applicant_welcome": "Welcome, {company}",
        "applicant_intro": "The bank will complete your loan remotely by video. "
        "Before we start, please read and agree to the following.",
        "loan_summary": "Loan summary",
        "consent_recording": "I agree that the video interview is recorded in full "
        "and kept by the bank.",
        "consent_data_use": "I agree that the bank collects and uses my ID document, face "
        "images and company information to verify my identity, sign the contract and for "
        "compliance review.",
        "agree_continue": "Agree and continue",
        "consent_needed": "Please tick both boxes to continue",
        "consent_done": "Your consent has been recorded.",
        "next_steps": "Next: photographing your documents, a liveness check and the video "
        "interview. Your account manager will be in touch.",
        "invite_invalid_title": "Link not usable",
        "invite_invalid": "This link has expired or was revoked. Please ask your account "
        "manager for a new one.",
        "no_session_title": "Please use your invite link",
        "no_session": "Open this page with the invite link your account manager sent you.",
        "error_title": "Something went wrong",
        "not_found": "Page not found",
        "forbidden": "You may not open this page",
        "step": "Step {n} of {total}",
        "working": "Working…",
        "page_prev": "Previous",
        "page_next": "Next",
        "state_draft": "draft",
        "state_invited": "invited",
        "state_identity_verified": "identity verified",
        "state_in_interview": "in interview",
        "state_contract_signed": "contract signed",
        "state_under_review": "under review",
        "state_flagged": "returned",
        "state_approved": "approved",
        "state_rejected": "rejected",
        "state_cancelled": "cancelled",
        "state_expired": "expired",
        "action_cancel": "Cancel application",
        "action_start_interview": "Start interview",
        "action_interrupt_interview": "Interrupt interview",
        "action_submit_for_review": "Submit for review",
        "action_approve": "Approve",
        "action_reject": "Reject",
        "action_flag": "Return to manager",
        "action_resubmit": "Resubmit for review",
    },
}


def pick_language(request: web.Request) -> str:
    """The cookie's choice, else the best match in Accept-Language, else zh-CN."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("Accept-Language", "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((quality, tag.strip().lower()))
    for _quality, tag in sorted(ranked, key=lambda item: -item[0]):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def translate(language: str, key: str, **values: str | int) -> str:
    text = MESSAGES.get(language, MESSAGES[DEFAULT_LANGUAGE]).get(key, key)
    return text.format(**values) if values else text
