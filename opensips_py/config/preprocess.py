"""Turn a config file and its includes into one text the grammar reads, keeping every position traceable.

What OpenSIPS does before its grammar (cfg_pp.c, cfg.lex), done the same way here:
- `include_file "path"` / `import_file "path"` are line directives: recognised only as the first thing on a
  line, the rest of the line ignored; the file's lines are spliced in place (also inside a route body). A
  relative path is tried against the working directory first, then against the including file's directory.
  Nesting is limited to 50; a cycle is an error.
- Comments are `# …` to the end of the line and `/* … */`, which nest. We blank them (spaces, newlines kept),
  so lines and columns of everything else stay where they were.

`Source.locate(line, column)` maps a position in the flattened text back to (file, line, column).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from opensips_py.config.diagnostics import Diagnostic, Location, Severity

MAX_INCLUDE_DEPTH = 50
MAX_CONFIG_BYTES = 2 * 1024 * 1024

_INCLUDE_RE = re.compile(r"""^[ \t]*(include_file|import_file)[ \t]+(?:"([^"\n]*)"|'([^'\n]*)')""")
_INCLUDE_WORD_RE = re.compile(r"^[ \t]*(include_file|import_file)\b")
_SCAN_RE = re.compile(r'"|\'|#|/\*')


@dataclass(frozen=True)
class LineOrigin:
    file: str
    line: int


@dataclass
class Source:
    """A flattened config: the text the grammar reads and where each of its lines came from."""

    text: str
    origins: list[LineOrigin]
    files: dict[str, str] = field(default_factory=dict)  # path -> original text (comments included)
    main_file: str = ""

    def locate(self, line: int, column: int) -> tuple[str, int, int]:
        """Flattened (line, column) -> (file, line, column); all 1-based."""
        if not self.origins:
            return (self.main_file, line, column)
        index = min(max(line - 1, 0), len(self.origins) - 1)
        origin = self.origins[index]
        return (origin.file, origin.line, column)

    def location(self, line: int, column: int, end_line: int | None = None,
                 end_column: int | None = None) -> Location:
        file, src_line, src_col = self.locate(line, column)
        if end_line is not None:
            end_file, end_src_line, end_col = self.locate(end_line, end_column or 1)
            if end_file != file:
                end_src_line, end_col = src_line, src_col
            return Location(file, src_line, src_col, end_src_line, end_col)
        return Location(file, src_line, src_col)

    def source_line(self, file: str, line: int) -> str:
        """The original text of one line (for carets)."""
        text = self.files.get(file)
        if text is None:
            return ""
        lines = text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def blank_comments(text: str, file: str, diagnostics: list[Diagnostic]) -> str:
    """Replace comments with spaces (newlines kept), skipping over strings; `/* */` nest."""
    out: list[str] = []
    pos = 0
    length = len(text)
    while pos < length:
        match = _SCAN_RE.search(text, pos)
        if match is None:
            out.append(text[pos:])
            break
        start = match.start()
        out.append(text[pos:start])
        token = match.group()
        if token == '"':
            end = start + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, length)
            out.append(text[start:end])
            pos = end
        elif token == "'":
            end = text.find("'", start + 1)
            end = length if end < 0 else end + 1
            out.append(text[start:end])
            pos = end
        elif token == "#":
            end = text.find("\n", start)
            end = length if end < 0 else end
            out.append(" " * (end - start))
            pos = end
        else:  # "/*", nesting
            depth = 0
            end = start
            while end < length:
                if text.startswith("/*", end):
                    depth += 1
                    end += 2
                elif text.startswith("*/", end):
                    depth -= 1
                    end += 2
                    if depth == 0:
                        break
                else:
                    end += 1
            if depth > 0:
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                diagnostics.append(Diagnostic(
                    "E001", Severity.ERROR, Location(file, line, column),
                    "unterminated /* comment (unexpected end of file)",
                    hint="close it with */ (block comments nest: count the /* inside it too)"))
            chunk = text[start:end]
            out.append(re.sub(r"[^\n]", " ", chunk))
            pos = end
    return "".join(out)


def _decode(data: bytes, file: str, diagnostics: list[Diagnostic]) -> str | None:
    """Bytes -> text, reporting a binary file or invalid UTF-8 once (with its position)."""
    if b"\x00" in data[:65536]:
        diagnostics.append(Diagnostic(
            "E005", Severity.ERROR, Location(file, 1, 1),
            "not a text file (it contains NUL bytes)",
            hint="pass the opensips.cfg itself, not a binary or compressed file"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diagnostics.append(Diagnostic(
            "E005", Severity.ERROR, Location(file, line, column),
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8; the rest of the file was checked with the bad bytes replaced"))
        return data.decode("utf-8", errors="replace")


class Preprocessor:
    """Flattens a config and its includes. Diagnostics collect in `self.diagnostics`."""

    def __init__(self, cwd: str | None = None, max_bytes: int = MAX_CONFIG_BYTES,
                 overlay: dict[str, str] | None = None):
        self.cwd = cwd or os.getcwd()
        self.max_bytes = max_bytes
        self.overlay = overlay or {}  # path -> text read instead of the file (edited, not yet written)
        self.diagnostics: list[Diagnostic] = []
        self._total_bytes = 0

    def load(self, path: str) -> Source | None:
        """The flattened source of `path`, or None when the main file itself cannot be read."""
        source = Source(text="", origins=[], main_file=path)
        lines = self._read(path, source, stack=[], include_at=None)
        if lines is None:
            return None
        source.text = "\n".join(text for text, _ in lines) + "\n"
        source.origins = [origin for _, origin in lines]
        return source

    def load_text(self, text: str, name: str = "<string>") -> Source:
        """Flatten config text held in memory (includes resolve against the working directory)."""
        source = Source(text="", origins=[], main_file=name)
        lines = self._split(text, name, source, stack=[name])
        source.text = "\n".join(t for t, _ in lines) + "\n"
        source.origins = [origin for _, origin in lines]
        return source

    def _read(self, path: str, source: Source, stack: list[str],
              include_at: Location | None) -> list[tuple[str, LineOrigin]] | None:
        where = include_at or Location(path, 1, 1)
        if path in self.overlay:
            return self._split(self.overlay[path], path, source, stack + [os.path.realpath(path)])
        try:
            with open(path, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except IsADirectoryError:
            self._error("E002", where, f"cannot read {path!r}: it is a directory",
                        "name the config file, not its folder")
            return None
        except FileNotFoundError:
            self._error("E002", where, f"cannot read {path!r}: no such file",
                        "check the path (a relative include is tried against the working directory, "
                        "then against the including file's directory)")
            return None
        except PermissionError:
            self._error("E002", where, f"cannot read {path!r}: permission denied",
                        "make the file readable by the user running opensips-py")
            return None
        except OSError as exc:
            self._error("E002", where, f"cannot read {path!r}: {exc.strerror or exc}", None)
            return None
        self._total_bytes += len(data)
        if len(data) > self.max_bytes or self._total_bytes > self.max_bytes:
            self._error("E006", where,
                        f"config too large: more than {self.max_bytes // (1024 * 1024)} MiB "
                        f"(includes counted)",
                        "a real opensips.cfg is a few hundred KB at most; is this the right file? "
                        "(--max-size raises the limit)")
            return None
        text = _decode(data, path, self.diagnostics)
        if text is None:
            return None
        return self._split(text, path, source, stack + [os.path.realpath(path)])

    def _split(self, text: str, path: str, source: Source,
               stack: list[str]) -> list[tuple[str, LineOrigin]]:
        source.files[path] = text
        clean = blank_comments(text, path, self.diagnostics)
        result: list[tuple[str, LineOrigin]] = []
        for number, line in enumerate(clean.split("\n"), start=1):
            if "_file" in line and _INCLUDE_WORD_RE.match(line):
                result.append(("", LineOrigin(path, number)))
                result.extend(self._include(line, path, number, source, stack))
                continue
            result.append((line, LineOrigin(path, number)))
        if result and result[-1][0] == "" and text.endswith("\n"):
            result.pop()  # the empty piece after the final newline
        return result

    def _include(self, line: str, path: str, number: int, source: Source,
                 stack: list[str]) -> list[tuple[str, LineOrigin]]:
        match = _INCLUDE_RE.match(line)
        column = len(line) - len(line.lstrip()) + 1
        here = Location(path, number, column)
        if match is None:
            self._error("E001", here, "include_file/import_file needs a quoted path",
                        'write include_file "other.cfg" on a line of its own')
            return []
        target = match.group(2) if match.group(2) is not None else match.group(3)
        resolved = self._resolve(target, path)
        if len(stack) > MAX_INCLUDE_DEPTH:
            self._error("E004", here, f"includes nested deeper than {MAX_INCLUDE_DEPTH}",
                        "an include chain this deep is almost always a cycle through symlinks")
            return []
        if os.path.realpath(resolved) in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack + [resolved])
            self._error("E003", here, f"include cycle: {chain}",
                        "remove the include that leads back to a file already being read")
            return []
        lines = self._read(resolved, source, stack, include_at=here)
        return lines or []

    def _resolve(self, target: str, including: str) -> str:
        if os.path.isabs(target):
            return target
        from_cwd = os.path.join(self.cwd, target)
        if os.path.exists(from_cwd):
            return from_cwd
        return os.path.join(os.path.dirname(os.path.abspath(including)), target)

    def _error(self, code: str, where: Location, message: str, hint: str | None) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, where, message, hint=hint))
