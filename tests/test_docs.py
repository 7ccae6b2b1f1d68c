"""The docs build with MkDocs in strict mode (a broken link or anchor fails), and the README's links
into them lead somewhere."""
import re
import subprocess

from conftest import ROOT, TOOLS_BIN


def _anchors(page) -> set[str]:
    """The ids MkDocs gives a page's headings (its toc extension's default slugs)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", re.sub(r"[`*]", "", h)).strip().lower()) for h in headings}


def test_the_docs_build_strictly(tmp_path):
    done = subprocess.run([str(TOOLS_BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "code" / "index.html").is_file()


def test_the_readme_links_to_pages_and_headings_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 10
    for page, anchor in links:
        assert (ROOT / page).is_file(), page
        assert not anchor or anchor in _anchors(ROOT / page), f"{page}#{anchor}"
    assert len(readme.splitlines()) <= 300
