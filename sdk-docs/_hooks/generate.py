"""mkdocs hook: fills generated sections so the reference cannot drift from the code.

A page marks a generated section with an HTML comment: ``<!-- portico:capability-matrix -->``,
``<!-- portico:cli -->``, ``<!-- portico:config-schema -->``, ``<!-- portico:connection-settings -->``,
``<!-- portico:record-types -->``, ``<!-- portico:export-types -->``, ``<!-- portico:mapping-rule -->``,
``<!-- portico:fault-rule -->``, ``<!-- portico:alert-channels -->``, ``<!-- portico:mock-options -->``.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import re
import textwrap
from typing import Any


def _capability_matrix() -> str:
    from portico.plugins import PluginManager
    from portico.sdk import Capability

    pm = PluginManager()
    installed = [cls.spec for _, cls in sorted(pm.connectors.items())]
    # a retired connector has no capabilities left: it is listed under the matrix, not as a column
    specs = [s for s in installed if s.retired is None]
    retired = [s for s in installed if s.retired is not None]
    if not specs and not retired:
        return "_No connectors are installed._"
    marks = {"supported": "✔", "emulated": "◐", "unsupported": "✘"}
    head = "| capability | " + " | ".join(s.name for s in specs) + " |"
    rule = "|---|" + "---|" * len(specs)
    rows = [head, rule]
    for capability in Capability:
        cells = [marks[s.capabilities.support(capability).value] for s in specs]
        rows.append(f"| `{capability.value}` | " + " | ".join(cells) + " |")
    rows.append("| kinds | " + " | ".join(", ".join(k.value for k in s.kinds) for s in specs) + " |")
    rows.append("| auth | " + " | ".join(", ".join(a.scheme for a in s.auth) or "none" for s in specs) + " |")
    rows.append(
        "| throttling | "
        + " | ".join(", ".join(str(w) for w in s.throttling.windows) or "none" for s in specs)
        + " |"
    )
    rows.append(
        "| order types | "
        + " | ".join(", ".join(o.value for o in s.capabilities.order_types) or "–" for s in specs)
        + " |"
    )
    rows.append(
        "| time in force | "
        + " | ".join(", ".join(t.value for t in s.capabilities.time_in_force) or "–" for s in specs)
        + " |"
    )
    rows.append(
        "| streams | " + " | ".join(", ".join(x.value for x in s.streams) or "–" for s in specs) + " |"
    )
    legend = (
        "\n\n✔ supported · ◐ emulated by portico from other calls · ✘ not supported (raises `NotSupported`)"
    )
    gone = "".join(
        f"\n- `{s.name}` ({s.display_name}), retired {s.retired.retired_on.isoformat()}: use "
        f"{', '.join(f'`{r}`' for r in s.retired.replacements) or 'nothing'}"
        for s in retired
        if s.retired is not None
    )
    if gone:
        gone = (
            "\n\nRetired connectors (their manifest's `retired`; a configuration naming one is refused):\n"
            + gone
        )
    return ("\n".join(rows) + legend if specs else "_No connectors are installed._") + gone


def _cli() -> str:
    import click

    from portico.cli import cli

    out: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        ctx = click.Context(command, info_name=" ".join(path))
        out.append(f"### `{' '.join(path)}`\n")
        out.append("```text\n" + command.get_help(ctx).rstrip() + "\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, [*path, name])

    root_ctx = click.Context(cli, info_name="portico")
    for name in cli.list_commands(root_ctx):  # the command line's own and the contributed ones
        command = cli.get_command(root_ctx, name)
        if command is not None:
            walk(command, ["portico", name])
    return "\n".join(out)


def _connection_settings() -> str:
    from portico.plugins import PluginManager

    pm = PluginManager()
    out: list[str] = []
    for name, cls in sorted(pm.connectors.items()):
        if cls.spec.retired is not None:
            continue  # nothing to connect to
        model = cls.spec.connection_settings
        out.append(f"### `{name}`\n")
        out.append(f"`{model.__module__}.{model.__name__}`\n")
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        for row in model.describe():
            kind = row["type"].replace("|", "\\|")
            out.append(f"| `{row['name']}` | {kind} | {row['default']} | {row['description']} |")
        out.append("")
    return "\n".join(out) if out else "_No connectors are installed._"


def _config_schema() -> str:
    from portico.config import IntegrationConfig

    schema = IntegrationConfig.model_json_schema()
    return "```json\n" + json.dumps(schema, indent=2) + "\n```"


def _field_docs(model: type) -> dict[str, str]:
    """What each field means: the class docstring's ``Attributes:`` entries, then attribute docstrings."""
    docs: dict[str, str] = {}
    doc = inspect.getdoc(model) or ""
    if "Attributes:" in doc:
        section = doc.split("Attributes:", 1)[1]
        current = None
        for line in section.splitlines():
            match = re.match(r"^\s{4}(\w+):\s*(.*)$", line)
            if match:
                current = match.group(1)
                docs[current] = match.group(2)
            elif current and line.startswith("        "):
                docs[current] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    except (OSError, TypeError, SyntaxError):
        return docs
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs.setdefault(node.target.id, " ".join(after.value.value.split()))
    return docs


def _rst(text: str) -> str:
    """Docstring markup as Markdown: ``code`` -> `code`, :class:`X` -> `X`."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "").replace("pydantic.types.", "")
    text = re.sub(r"<class '([\w.]+)'>", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = re.sub(r"\b[\w.]+\.(\w+)", r"\1", text)
    return text.replace("|", "\\|")


def _model_table(model: Any, skip: tuple[str, ...] = ()) -> str:
    docs = _field_docs(model)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = "empty"
        else:
            default = f"`{field.default!r}`" if field.default is not None else "none"
        meaning = _rst(field.description or docs.get(name, "")).replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {meaning} |")
    return "\n".join(rows)


def _record_types() -> str:
    from portico.jobs import RECORD_TYPES

    rows = [
        "| record type | required columns | optional columns | key (one record per) |",
        "|---|---|---|---|",
    ]
    for name, rt in sorted(RECORD_TYPES.items()):

        def cols(names: Any, rt: Any = rt) -> str:
            return ", ".join(f"`{f}` ({rt.kinds[f].value})" for f in names) or "–"

        required = [f for f in rt.fields if f in rt.required]
        optional = [f for f in rt.fields if f not in rt.required]
        aliases = f" (also: {', '.join(rt.aliases)})" if rt.aliases else ""
        rows.append(f"| `{name}`{aliases} | {cols(required)} | {cols(optional)} | {', '.join(rt.key)} |")
    return "\n".join(rows)


def _export_types() -> str:
    from portico.contributions import resolve_ref
    from portico.jobs import RECORD_TYPES
    from portico.plugins import PluginManager

    rows = ["| export type | what it writes | columns |", "|---|---|---|"]
    for name, rt in sorted(RECORD_TYPES.items()):
        rows.append(
            f"| `{name}` | the imported {name.replace('_', ' ')} in the store | {', '.join(rt.fields)} |"
        )
    # the built-in plugins' contributed export types (the trading tables)
    for item in PluginManager(autoload=False).contributions("portico_export_types"):
        what = item.description or item.name.replace("_", " ")
        rows.append(f"| `{item.name}` | {what} | {', '.join(resolve_ref(item.columns))} |")
    rows.append(
        "| `portfolio_summary` | positions across brokers, valued; with `data_export.base_currency`, "
        "`market_value_base` too | system, account, symbol, quantity, market value... |"
    )
    rows.append(
        "| `market_data` | bars or quotes the market data service holds (`--filter symbol=...`) | per bar or quote |"
    )
    return "\n".join(rows)


def _mapping_rule() -> str:
    from portico.jobs import FieldRule

    return _model_table(FieldRule)


def _fault_rule() -> str:
    from portico.mocks import FaultKind, FaultRule

    kinds = ", ".join(f"`{k.value}`" for k in FaultKind)
    return _model_table(FaultRule, skip=("hits", "seen")) + f"\n\n`kind` is one of {kinds}."


def _alert_channels() -> str:
    from portico.monitor._channels import EmailOptions, SlackOptions, WebhookOptions

    out = []
    for type_name, model in (("email", EmailOptions), ("slack", SlackOptions), ("webhook", WebhookOptions)):
        out.append(f"### `type: {type_name}`\n\n{_rst((inspect.getdoc(model) or '').splitlines()[0])}\n")
        out.append(_model_table(model) + "\n")
    return "\n".join(out)


def _mock_options() -> str:
    from portico.mocks._kit._server import resolve_mock
    from portico.plugins import PluginManager

    kit = {"seed", "faults", "host", "port", "log_level", "startup_timeout", "clock"}
    rows = ["| mock | options |", "|---|---|"]
    for name, mock in sorted(PluginManager().mocks.items()):
        try:
            factory = resolve_mock(mock)[0]
            parameters = inspect.signature(factory).parameters
        except Exception:
            continue
        named = [
            f"`{p}`"
            for p, param in parameters.items()
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD) and p not in kit
        ]
        if any(param.kind is param.VAR_KEYWORD for param in parameters.values()):
            doc = inspect.getdoc(factory) or ""
            extra = re.search(r"\*\*\w+:\s*(.*?)(?:\n\s*\n|\n\S|$)", doc, re.S)
            named.append(
                _rst(" ".join(extra.group(1).split())) if extra else "options of its simulated venue"
            )
        rows.append(f"| `{name}` | {', '.join(named) or '–'} |")
    return "\n".join(rows)


GENERATORS = {
    "<!-- portico:capability-matrix -->": _capability_matrix,
    "<!-- portico:cli -->": _cli,
    "<!-- portico:config-schema -->": _config_schema,
    "<!-- portico:connection-settings -->": _connection_settings,
    "<!-- portico:record-types -->": _record_types,
    "<!-- portico:export-types -->": _export_types,
    "<!-- portico:mapping-rule -->": _mapping_rule,
    "<!-- portico:fault-rule -->": _fault_rule,
    "<!-- portico:alert-channels -->": _alert_channels,
    "<!-- portico:mock-options -->": _mock_options,
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
