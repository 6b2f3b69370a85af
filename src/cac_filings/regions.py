"""Province-level administrative division codes (GB/T 2260): the first two digits of the
region code that opens every 网信算备 number."""

from __future__ import annotations

PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}


def province_for_region(region_code: str) -> str | None:
    """Province name for a six-digit region code, or None when the prefix is not a province."""
    return PROVINCES.get(region_code[:2])


# Province tokens of generative-AI numbers (Beijing-WenXinYiYan-20230821), compared in lower
# case. ShanXi is used for both 山西 and 陕西; ZhongYangQiYe (中央企业) is the 国资委 list.
PROVINCE_TOKENS: dict[str, frozenset[str]] = {
    token: frozenset(names) for token, names in {
        "beijing": {"北京市"}, "tianjin": {"天津市"}, "hebei": {"河北省"},
        "shanxi": {"山西省", "陕西省"}, "shaanxi": {"陕西省"},
        "neimenggu": {"内蒙古自治区"}, "neimongol": {"内蒙古自治区"},
        "innermongolia": {"内蒙古自治区"}, "liaoning": {"辽宁省"}, "jilin": {"吉林省"},
        "heilongjiang": {"黑龙江省"}, "shanghai": {"上海市"}, "jiangsu": {"江苏省"},
        "zhejiang": {"浙江省"}, "anhui": {"安徽省"}, "fujian": {"福建省"}, "jiangxi": {"江西省"},
        "shandong": {"山东省"}, "henan": {"河南省"}, "hubei": {"湖北省"}, "hunan": {"湖南省"},
        "guangdong": {"广东省"}, "guangxi": {"广西壮族自治区"}, "hainan": {"海南省"},
        "chongqing": {"重庆市"}, "sichuan": {"四川省"}, "guizhou": {"贵州省"},
        "yunnan": {"云南省"}, "xizang": {"西藏自治区"}, "tibet": {"西藏自治区"},
        "gansu": {"甘肃省"}, "qinghai": {"青海省"}, "ningxia": {"宁夏回族自治区"},
        "xinjiang": {"新疆维吾尔自治区"}, "zhongyangqiye": {"国资委"},
        "xianggang": {"香港特别行政区"}, "hongkong": {"香港特别行政区"},
        "aomen": {"澳门特别行政区"}, "macao": {"澳门特别行政区"}, "taiwan": {"台湾省"},
    }.items()
}


def provinces_for_token(token: str) -> frozenset[str] | None:
    """The provinces a number's province token may stand for, or None when it is unknown."""
    return PROVINCE_TOKENS.get(token.lower())
