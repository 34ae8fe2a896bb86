"""The one YAML reader of the package (aeries_hub.config_files.read_yaml): YAML 1.2 booleans, no alias bombs."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import yaml

from aeries_hub.config_files import MAX_ALIASES, closest, read_yaml, read_yaml_with_lines
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError

REPO = Path(__file__).resolve().parents[3]


def alias_bomb(key: str, levels: int = 9, width: int = 9) -> str:
    """"Billion laughs" as the value of ``key``: a list whose each level holds ``width`` aliases of the level
    before (width**levels leaves). The JSON Schema error for it ("[...] is not of type 'string'") writes out
    every leaf: without the alias limit, loading the mapping does not end (killed after 30 s)."""
    lines = [f"  - &l0 [{', '.join(['lol-lol-lol'] * width)}]"]
    lines += [f"  - &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels + 1)]
    return f"{key}:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_in_a_mapping_is_refused_at_once_naming_the_file_and_line(tmp_path):
    shipped = (REPO / "include" / "mappings" / "xello.yml").read_text()
    mapping = shipped.replace("title: Xello students, courses and educators\n", "")
    assert mapping != shipped
    path = tmp_path / "xello.yml"
    path.write_text(mapping + alias_bomb("title"))
    assert len(alias_bomb("title")) < 1000
    # The mapping's own aliases (*csv) count too: the file's 21st alias, in the bomb, is the one refused.
    own = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(mapping))
    aliases = [(number, column) for number, text in enumerate(path.read_text().splitlines(), start=1)
               if number > mapping.count("\n") for column in range(1, len(text) + 1) if text[column - 1] == "*"]
    line, column = aliases[MAX_ALIASES - own]

    started = time.monotonic()
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert time.monotonic() - started < 1.0
    assert str(err.value) == (
        f"xello.yml: line {line}, column {column}: more than 20 aliases (*name) in one file, refused (nested "
        "aliases make a YAML bomb that stalls every DAG at parse time): write the repeated values out")


def test_a_few_aliases_are_fine_and_the_limit_is_exact(tmp_path):
    path = tmp_path / "doc.yml"
    shared = "shared: &s {format: csv, delimiter: ','}\n"
    path.write_text(shared + "".join(f"k{n}: *s\n" for n in range(MAX_ALIASES)))
    document = read_yaml(path, shown="doc.yml", error=ValueError)
    assert document["k19"] == {"format": "csv", "delimiter": ","}
    path.write_text(shared + "".join(f"k{n}: *s\n" for n in range(MAX_ALIASES + 1)))
    with pytest.raises(ValueError, match=r"^doc\.yml: line 22, column 6: more than 20 aliases"):
        read_yaml(path, shown="doc.yml", error=ValueError)


def test_yaml_12_booleans():
    import yaml

    from aeries_hub.config_files import _Yaml12Loader

    document = yaml.load("a: on\nb: yes\nc: true\nd: N", Loader=_Yaml12Loader)
    assert document == {"a": "on", "b": "yes", "c": True, "d": "N"}


def test_every_yaml_file_of_the_package_is_read_by_read_yaml():
    """No other module imports yaml: the alias limit cannot be bypassed by another loader."""
    importers = []
    for path in sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name == "yaml" or name.startswith("yaml.") for name in names):
                importers.append(str(path.relative_to(REPO)))
    assert importers == ["plugins/aeries_hub/config_files.py"]


def test_the_line_of_each_key_and_of_the_closest_key_above_one_not_written(tmp_path):
    path = tmp_path / "doc.yml"
    path.write_text("shared: &shared\n  delimiter: ';'\noutputs:\n  - file: a.csv\n    format:\n      <<: *shared\n"
                    "      header: false\n  - file: b.csv\n")
    document, lines = read_yaml_with_lines(path, shown="doc.yml", error=ValueError)
    assert document["outputs"][0]["format"] == {"delimiter": ";", "header": False}
    assert lines.located("outputs[0].format.header: not a switch") == "doc.yml:7: outputs[0].format.header: not a switch"
    assert lines.located("outputs[1]: no columns") == "doc.yml:8: outputs[1]: no columns"
    assert lines.located("outputs[1].columns[0].name: missing") == "doc.yml:8: outputs[1].columns[0].name: missing"
    assert lines.located("outputs[0].format.delimiter: merged") == "doc.yml:2: outputs[0].format.delimiter: merged"
    assert lines.located("(top): not a mapping") == "doc.yml: (top): not a mapping"


def test_closest_prefers_the_same_name_in_another_case_then_a_close_spelling():
    assert closest("StudentId", ["StudentID", "StudentNumber"]) == "StudentID"
    assert closest("StudentNumbr", ["StudentID", "StudentNumber"]) == "StudentNumber"
    assert closest("Birthday", ["StudentID", "StudentNumber"]) is None
    assert closest("titl", ["title", "trim"], cutoff=0.9) is None


# -- loaded_once_per_content: what every task of a run and every DAG parse reads again ------------------------
def test_a_file_is_loaded_again_only_when_its_bytes_change(tmp_path):
    from aeries_hub.config_files import loaded_once_per_content

    loads = []

    @loaded_once_per_content()
    def load(path):
        loads.append(path.read_text())
        return (path.read_text(),)

    path = tmp_path / "doc.yml"
    path.write_text("a: 1\n")
    first = load(path)
    assert load(str(path)) is first and loads == ["a: 1\n"]
    path.write_text("a: 2\n")
    assert load(path) == ("a: 2\n",) and loads == ["a: 1\n", "a: 2\n"]
    path.write_text("a: 1\n")  # back to bytes seen before: the earlier result, no new load
    assert load(path) is first and len(loads) == 2


def test_a_load_error_is_not_kept_and_a_missing_file_is_the_loaders_own_error(tmp_path):
    path = tmp_path / "destiny.yml"
    path.write_text("name: [unclosed\n")
    for _ in range(2):
        with pytest.raises(MappingError, match=r"^destiny\.yml: line 2, column 1: not valid YAML"):
            load_mapping(path)
    path.write_text((REPO / "include" / "mappings" / "destiny.yml").read_text())
    assert load_mapping(path).name == "destiny"
    path.unlink()
    with pytest.raises(MappingError, match=rf"^destiny\.yml: file not found at {path}$"):
        load_mapping(path)


def test_a_kept_mapping_whose_crosswalk_file_went_away_is_loaded_again_and_refused(tmp_path):
    """The one thing a mapping's load checks outside its own file: a crosswalk file that is not optional."""
    include = tmp_path / "include"
    (include / "mappings").mkdir(parents=True)
    (include / "crosswalks").mkdir()
    crosswalk = include / "crosswalks" / "destiny_sites.csv"
    crosswalk.write_text("aeries_school_code,destiny_site_short_name\n")
    mapping = (REPO / "include" / "mappings" / "destiny.yml").read_text()
    path = include / "mappings" / "destiny.yml"
    path.write_text(mapping.replace("optional: true ", "optional: false"))
    assert "optional: false" in path.read_text()
    assert load_mapping(path) is load_mapping(path)
    crosswalk.unlink()
    with pytest.raises(MappingError, match=r"crosswalks\.sites\.file: .*destiny_sites\.csv does not exist"):
        load_mapping(path)


def test_a_key_written_twice_in_one_mapping_is_refused_with_both_lines(tmp_path):
    path = tmp_path / "doc.yml"
    path.write_text("records:\n  - name: a\n    where: [{column: X, blank: true}]\n    from: t\n"
                    "    where: [{column: Y, blank: true}]\n")
    with pytest.raises(ValueError) as refused:
        read_yaml(path, shown="doc.yml", error=ValueError)
    assert str(refused.value) == ("doc.yml: line 5: key 'where' is written twice in one mapping (first on line 3); "
                                  "YAML would keep only the last and drop the first: merge the two or remove one")
    path.write_text("shared: &shared\n  delimiter: ';'\n  header: true\nformat:\n  <<: *shared\n  header: false\n")
    assert read_yaml(path, shown="doc.yml", error=ValueError)["format"] == {"delimiter": ";", "header": False}
