"""The level of a measure's legal basis (法律位阶), given or inferred from the title.

A rights-limiting measure needs a law or an administrative regulation behind it
(浙江省公共信用信息管理条例 Art 26; FACTS §4), so validation must know each
basis's level. The file may give it (spec §5.1 object form); otherwise it is
inferred from the instrument's title, but only where the title alone settles it:

- ``《…法》`` (not ``…办法``) and ``《…法典》`` are laws;
- a ``条例`` named after a province or city is a local regulation; any other
  ``条例`` (not a Party or military one) is taken as a State Council
  administrative regulation;
- a ``规定``/``解释`` of the Supreme People's Court or Procuratorate is a
  judicial interpretation, a kind the spec's level list lacks (see
  :data:`JUDICIAL_INTERPRETATION`).

Everything else (``办法``, ``规定``, ``通知``, ``意见`` …) could be a
departmental rule, a local rule or a normative document depending on who
issued it, so the level is "unknown" and validation warns.
"""

from __future__ import annotations

import re
from typing import Final

from creditguard.models import LegalBasis

__all__ = [
    "JUDICIAL_INTERPRETATION",
    "SUFFICIENT_FOR_RIGHTS_LIMITING",
    "basis_kind",
    "infer_level",
    "instrument_name",
]

#: The kind returned for judicial interpretations (司法解释). They bind courts
#: and interpret a law, so they count as a sufficient basis for the
#: court-notified measures; spec §5.1 has no level for them, so it is not a
#: :data:`~creditguard.models.BasisLevel` and cannot be written in a file.
JUDICIAL_INTERPRETATION: Final = "judicial_interpretation"

#: Basis kinds that may carry a rights-limiting measure.
SUFFICIENT_FOR_RIGHTS_LIMITING: Final[frozenset[str]] = frozenset(
    {"law", "administrative_regulation", JUDICIAL_INTERPRETATION}
)

_PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆",
    "香港", "澳门",
)  # fmt: skip
# "南京市…", "深圳经济特区…", "延边朝鲜族自治州…": a place name before an administrative suffix.
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,10}?(省|市|自治区|自治州|自治县|县|经济特区)")
_BRACKETED = re.compile(r"《([^》]+)》")
_NATIONAL = "中华人民共和国"


def instrument_name(title: str) -> str:
    """The instrument's name: the first ``《…》`` in ``title``, else the whole title trimmed."""
    m = _BRACKETED.search(title)
    return (m.group(1) if m else title).strip()


def _named_after_place(name: str) -> bool:
    if name.startswith(_NATIONAL):
        return False
    if name.startswith(_PROVINCES):
        return True
    m = _PLACE.match(name)
    # "城市供水条例" is national: "城市" is "city" in general, not a place name.
    return m is not None and not name.startswith("城市")


def infer_level(title: str) -> str | None:
    """The level (or :data:`JUDICIAL_INTERPRETATION`) the title alone settles, else ``None``."""
    name = instrument_name(title)
    # An instrument's name without its revision note: "…条例（2019年修订）".
    name = re.sub(r"[（(][^）)]*[）)]$", "", name).strip()
    if name.startswith(("最高人民法院", "最高人民检察院")) and (
        name.endswith(("规定", "解释", "批复", "决定")) or "若干规定" in name
    ):
        return JUDICIAL_INTERPRETATION
    if name.endswith("条例"):
        if name.startswith(("中国共产党", "中国人民解放军", "中国人民武装警察")):
            return None  # Party and military regulations are outside the state hierarchy
        return "local_regulation" if _named_after_place(name) else "administrative_regulation"
    if name.endswith("法典") or (name.endswith("法") and not name.endswith("办法")):
        return None if _named_after_place(name) else "law"
    return None


def basis_kind(basis: LegalBasis) -> str | None:
    """The basis's level: the explicit one, else the inferred one, else ``None`` (unknown)."""
    if basis.level is not None:
        return basis.level
    return infer_level(basis.title)
