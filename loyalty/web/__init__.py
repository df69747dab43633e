"""The HTML outputs: the self-contained report file and the admin dashboard, in five languages.

- `i18n`: Babel gettext catalogs (compiled from the committed .po files on first use), language
  negotiation, locale formatting of numbers, money and dates, text direction.
- `charts`: server-rendered SVG charts (no script), mirrored for right-to-left languages.
- `page`: the four report sections gathered from `reports/` and rendered with Jinja2.
- `dashboard`: the Starlette app (`loyalty dashboard`), security headers, admin actions.
"""
