"""Character classes shared by the matcher's and the clusterer's tokenizers."""

# Chinese and Japanese: kana and the ideographs (not the kana block's punctuation: ・ ゠ ゛ ゜).
# Written without spaces between words, so both tokenizers split runs of them themselves.
CJK = "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
