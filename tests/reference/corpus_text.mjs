// Hand-written corpus lines for make_corpus.mjs. Invisible or confusable characters are written
// as escapes so that this file shows exactly what each line holds.

export const HARD = [
  // --- trivial inputs
  "",
  " ",
  "\n",
  "\t",
  "\r\n",
  "a",
  "A",
  ".",
  "Hello",
  " Hello",
  "Hello ",
  "hello world",
  "Hello, World!",
  "HELLO WORLD",
  "hElLo WoRlD",
  "camelCaseIdentifier PascalCaseName snake_case_name SCREAMING_SNAKE kebab-case-name",
  "iPhone eBay McDonald macOS YouTube GitHub LaTeX",

  // --- CJK
  "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427\u3002",
  "\u81ea\u7136\u8bed\u8a00\u5904\u7406\u662f\u4eba\u5de5\u667a\u80fd\u7684\u4e00\u4e2a\u91cd\u8981\u9886\u57df\u3002",
  "\u7e41\u9ad4\u4e2d\u6587\uff1a\u6a5f\u5668\u5b78\u7fd2\u8207\u6df1\u5ea6\u5b78\u7fd2",
  "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u4eca\u65e5\u306f\u3044\u3044\u5929\u6c17\u3067\u3059\u306d\u3002",
  "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3068\u6f22\u5b57\u3092\u6df7\u305c\u305f\u6587\u7ae0\uff1a\u30b3\u30f3\u30d4\u30e5\u30fc\u30bf\u30fc\u3092\u4f7f\u3046\u3002",
  "\uff8a\uff9d\uff76\uff78\uff76\uff80\uff76\uff85 half-width katakana",
  "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \uc548\ub155\ud558\uc138\uc694!",
  "\u1100\u1161\u11a8 decomposed hangul jamo vs \uac01 precomposed",
  "Mixed \u4e2d\u6587 and English \u6df7\u5408 text 123 \u6570\u5b57",
  "\u4e2d\u6587\u3000\u5168\u89d2\u7a7a\u683c\u3000\u5206\u9694",
  "\u3010\u62ec\u5f27\u3011\u300c\u5f15\u7528\u300d\u300e\u4e8c\u91cd\u300f\uff08\u5168\u89d2\uff09",
  "\ud842\udfb7\u91ce\u5bb6 (U+20BB7, an astral CJK ideograph)",

  // --- emoji
  "\u{1f600}\u{1f603}\u{1f604}\u{1f601} grinning faces",
  "I love it \u2764\ufe0f!!! \u{1f525}\u{1f525}\u{1f525}",
  "\u{1f44d}\u{1f3fb}\u{1f44d}\u{1f3fc}\u{1f44d}\u{1f3fd}\u{1f44d}\u{1f3fe}\u{1f44d}\u{1f3ff} skin tones",
  "\u{1f1fa}\u{1f1f8}\u{1f1ec}\u{1f1e7}\u{1f1ef}\u{1f1f5}\u{1f1e9}\u{1f1ea}\u{1f1eb}\u{1f1f7} flags",
  "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} England (tag sequence)",
  "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466} family (ZWJ)",
  "\u{1f469}\u{1f3fd}\u200d\u{1f4bb} \u{1f3f3}\ufe0f\u200d\u{1f308} \u{1f9d1}\u200d\u{1f91d}\u200d\u{1f9d1}",
  "1\ufe0f\u20e3 2\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3 keycaps",
  "\u263a \u263a\ufe0f \u263a\ufe0e text vs emoji presentation",
  "\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}",
  "emoji\u{1f680}glued\u{1f680}to\u{1f680}words",

  // --- combining marks and complex scripts
  "cafe\u0301 vs caf\u00e9",
  "e\u0301e\u0301e\u0301 A\u030a \u212b \u00c5",
  "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u: ng\u01b0\u1eddi, \u0111\u01b0\u1eddng, n\u01b0\u1edbc, Nguy\u1ec5n",
  "Tie\u0302\u0301ng Vie\u0323\u0302t decomposed",
  "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, \u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
  "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07",
  "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u036b\u0357\u0364\u0352\u036a\u036e\u0361\u0338\u0316\u0339\u0349\u0348l\u0366\u0303\u0367\u036e\u0350\u0361\u0336\u0317\u0317\u0359g\u0352\u0363\u0306\u036c\u0360\u0335\u034e\u0345o\u0350\u0313\u0341\u0324\u0339",
  "a\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a\u030b\u030c\u030d\u030e\u030f",
  "\u0301 leading combining mark",
  "\u1f08\u0345 \u1f88 Greek with ypogegrammeni",
  "\u0391\u0398\u0397\u039d\u0391 \u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391 final sigma",
  "\u0130stanbul \u0131s\u0131k I\u0307 dotted and dotless i",
  "Stra\u00dfe STRASSE \u1e9e \ufb01 \ufb02 ligatures",
  "\u2160 \u2161 \u2162 \u2173 roman numerals \u00bd \u00bc \u00b2 \u00b3 \u2082",
  "\u2460\u2461\u2462 \u2474\u2475 \u24b6\u24b7\u24b8",
  "\u{1d400}\u{1d401}\u{1d402} \u{1d44e}\u{1d44f} math alphanumerics \u210c\u2102",
  "\u0f40\u0f72\u0f0b \u1000\u103c\u1014\u103a\u1019\u102c \u179f\u17bd\u179f\u17d2\u178f\u17b8",
  "\u0d2e\u0d32\u0d2f\u0d3e\u0d33\u0d02 \u0ba4\u0bae\u0bbf\u0bb4\u0bcd \u09ac\u09be\u0982\u09b2\u09be",

  // --- right-to-left
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
  "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0644\u063a\u0629 \u062c\u0645\u064a\u0644\u0629 \u0648\u0633\u0647\u0644\u0629 \u0627\u0644\u062a\u0639\u0644\u0645 123",
  "\u0634\u0643\u0652\u0631\u064b\u0627 \u062c\u064e\u0632\u0650\u064a\u0644\u064b\u0627 with harakat",
  "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
  "\u05e2\u05d1\u05e8\u05d9\u05ea: \u05d1\u05b0\u05bc\u05e8\u05b5\u05d0\u05e9\u05b4\u05c1\u05d9\u05ea with niqqud",
  "The word \u05e9\u05dc\u05d5\u05dd means peace, and \u0633\u0644\u0627\u0645 too (2024).",
  "Price: 25 \u062f\u0648\u0644\u0627\u0631 or \u20aa42.50 \u2014 \u0627\u0644\u0633\u0639\u0631 100",
  "\u200f\u0645\u0631\u062d\u0628\u0627\u200e hello \u202b\u05e9\u05dc\u05d5\u05dd\u202c \u2067isolate\u2069",
  "\u0641\u0627\u0631\u0633\u06cc: \u0633\u0644\u0627\u0645 \u062f\u0646\u06cc\u0627 \u06f1\u06f2\u06f3",

  // --- control characters and unusual whitespace
  "tab\tseparated\tvalues\t1\t2\t3",
  "\t\tindented with tabs",
  "carriage\rreturn",
  "line one\nline two\nline three",
  "windows\r\nline\r\nendings\r\n",
  "mixed\n\r\n\r\n\n\nbreaks",
  "\n\nleading newlines",
  "trailing newlines\n\n\n",
  " \n \n ",
  "\r",
  "\r\r\r",
  "form\ffeed and vertical\u000btab",
  "nbsp\u00a0between\u00a0words and\u00a0\u00a0double",
  "ideographic\u3000space\u3000\u3000run",
  "en\u2002em\u2003thin\u2009hair\u200afigure\u2007punct\u2008three\u2004four\u2005six\u2006quad\u2000\u2001",
  "narrow\u202fnbsp and medium\u205fmath and ogham\u1680space",
  "\ufeffBOM at start",
  "BOM\ufeffin the middle",
  "next\u0085line control",
  "line\u2028separator and paragraph\u2029separator",
  "zero\u200bwidth\u200bspace and joiner\u200dnon\u200cjoiner word\u2060joiner",
  "soft\u00adhyphen",
  "nul\u0000byte and bell\u0007 and escape\u001b[31m red\u001b[0m",
  "delete\u007f char and C1\u0080\u009f",
  "\u00a0",
  "\u3000",
  "\ufeff",
  "\u200b",
  "\u0085",
  " \u00a0 \u3000 \u2003 ",
  "word \ufeff word \u0085 word \u200b word",
  "a\ufeff\ufeff\ufeffb",
  "  \ufeff  ",
  "x \u0085\u0085 y",

  // --- numbers
  "1,234.56",
  "1,234,567,890.0123",
  "3.14e-10 6.022E+23 -0.5 +7 .5 5.",
  "0.1 + 0.2 = 0.30000000000000004",
  "1st 2nd 3rd 4th 21st 100th",
  "+1 (555) 123-4567",
  "+44 20 7946 0958, 555.123.4567, 1-800-FLOWERS",
  "1999 2000 2024 2025-01-31 12:34:56 1970-01-01T00:00:00Z",
  "v1.2.3-beta.4+build.567",
  "192.168.0.1 10.0.0.255:8080 [::1] fe80::1%eth0",
  "0xDEADBEEF 0b1010_1010 0o755 1_000_000 1e9",
  "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660 Arabic-Indic digits",
  "\u06f1\u06f2\u06f3\u06f4 Persian, \u0967\u0968\u0969 Devanagari, \u0e51\u0e52\u0e53 Thai digits",
  "\uff11\uff12\uff13\uff14\uff15 fullwidth digits \uff21\uff22\uff23 fullwidth letters",
  "100% 50\u00b0C -40\u00b0F 9.81m/s\u00b2 1/2 \u00be",
  "$1,000 \u20ac2.50 \u00a3300 \u00a5500 \u20b91,00,000 \u20bf0.001 \u20a9",
  "abc123def456ghi789",
  "x1y22z333w4444",
  "7even 4ever 2day 24/7 9-to-5",
  "12345678901234567890123456789012345678901234567890",
  "000000000007",
  "3.141592653589793238462643383279502884197",

  // --- contractions
  "don't won't can't shouldn't isn't",
  "DON'T WON'T CAN'T SHOULDN'T ISN'T",
  "Don't Won't Can't",
  "I'm you're he's she's it's we're they're",
  "I'M YOU'RE HE'S IT'S",
  "I'll we'll they'll you'd she'd they've we've I've",
  "I'LL WE'LL THEY'VE SHE'D",
  "O'Reilly rock'n'roll ma'am y'all'd've 'tis",
  "don\u2019t I\u2019m it\u2019s we\u2019ll they\u2019ve \u2018quoted\u2019 \u201cdouble\u201d",
  "'s 't 're 've 'm 'll 'd",
  "''quotes'' '' ' '' '''",
  "The dog's bone and the dogs' bones. James's book.",
  "it'S tHe'Ll WE'd mixed-case contractions",

  // --- code
  "def add(a, b):\n    return a + b\n",
  "class Foo:\n    def __init__(self, x: int = 0) -> None:\n        self.x = x  # comment\n",
  "for i in range(10):\n\tif i % 2 == 0:\n\t\tprint(f\"{i=}\")\n",
  "if x:\n  \t  mixed = 'spaces and tabs'\n",
  "#include <iostream>\nint main() {\n    std::cout << \"Hello\\n\";\n    return 0;\n}\n",
  "template <typename T> constexpr T max(const T& a, const T& b) noexcept { return a < b ? b : a; }",
  "auto p = std::make_unique<std::vector<int>>(42); p->push_back(-1); ++*it; x >>= 2; y <<= 3;",
  "{\"name\": \"slimtune\", \"version\": 1, \"tags\": [\"a\", \"b\"], \"nested\": {\"ok\": true, \"n\": null}}",
  "[\n  {\n    \"id\": 1,\n    \"value\": 3.5e-3\n  }\n]",
  "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\" | tr a-z A-Z > \"${f%.txt}.out\"; done",
  "ls -la | grep -E '^d' | awk '{print $9}' 2>/dev/null && echo ok || echo fail",
  "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@\\w+\\.[a-z]{2,}$",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}",
  "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
  "<div class=\"container\"><p id='x'>Hello &amp; welcome&nbsp;&lt;3</p></div>",
  "const f = async (x) => { await g(x?.y ?? 0); return `value: ${x}`; };",
  "fn main() { let v: Vec<u8> = vec![0; 16]; println!(\"{:?}\", &v[..4]); }",
  "        eight spaces of indentation",
  "    four\n        eight\n            twelve\n",
  "\t\t\t\tfour tabs",
  "x=1;y=2;z=x+y;print(z)",
  "a==b!=c<=d>=e&&f||g->h::i...j",
  "/* block comment */ // line comment -- sql comment # shell comment",
  "@decorator\n@property\ndef value(self): ...",
  "`inline code` ```fenced``` ~~~tilde~~~",

  // --- URLs, emails, paths
  "https://www.example.com/path/to/page?query=value&other=123#fragment",
  "http://user:pass@sub.example.co.uk:8080/a%20b/c?d=e+f",
  "ftp://files.example.org/pub/file-1.0.tar.gz and file:///home/user/notes.txt",
  "Contact me at john.doe+tag@example.com or JANE_SMITH@Example.ORG.",
  "C:\\Users\\Admin\\Documents\\file.txt /usr/local/bin/python3 ~/.bashrc ../relative/path",
  "https://\u4f8b\u3048.jp/\u30d1\u30b9 and xn--r8jz45g.jp",
  "www.example.com/search?q=hello+world&lang=en",

  // --- markdown
  "# Heading 1\n## Heading 2\n### Heading 3",
  "**bold** __also bold__ *italic* _italic_ ~~strike~~ `code`",
  "- item one\n- item two\n  - nested item\n* star item\n1. numbered\n2. list",
  "[link text](https://example.com \"title\") ![alt text](image.png)",
  "| col1 | col2 |\n|------|:----:|\n| a    | b    |",
  "> quoted text\n>> nested quote",
  "---\n***\n___",
  "```python\nprint('hi')\n```",

  // --- special-token strings inside text
  "<|endoftext|>",
  "Hello<|endoftext|>World",
  "text <|endoftext|> more text <|endoftext|><|endoftext|>",
  "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
  "<|im_start|>system\nYou are helpful.<|im_end|>",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "<|end_of_text|> <|eot_id|> <|reserved_special_token_5|>",
  "<s>",
  "</s>",
  "<s>[INST] hello [/INST] answer </s>",
  "<unk> <pad> <bos> <eos> <mask>",
  "<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n",
  "<start_of_turn> <end_of_turn> <start_of_image> <image_soft_token>",
  "<think>\nreasoning here\n</think>\n\nanswer",
  "<|im_start <|im_end| |im_start|> <|im_start|",
  "<s > < s> </s >< /s> <<s>> <s><s>",
  "<|endoftext|>partial<|endoftext",
  "<|END OF TEXT|> <|Endoftext|> <|ENDOFTEXT|>",
  "  <s>  spaced  </s>  ",
  "\u2581",
  "\u2581hello \u2581\u2581world\u2581",
  "\u2581\u2581\u2581",
  "<0x41> <0x0A> <0xFF> <0x00>",
  "<0x41><0x42><0x43>",
  "\u0120hello \u010a \u0100\u0101 \u00c4\u0142 byte-level look-alikes",

  // --- symbols
  "\u2200x\u2208\u211d: x\u00b2 \u2265 0 \u2227 \u2203y \u2209 \u2205",
  "\u222b\u2080\u00b9 f(x) dx \u2248 \u2211\u1d62 \u03c0\u00b7r\u00b2 \u2260 \u221e \u00b1 \u221a2 \u00d7 \u00f7",
  "\u2190\u2192\u2191\u2193\u2194\u21d2\u21d4 \u2318\u2325\u21e7 \u2713\u2717\u2605\u2606",
  "\u250c\u2500\u2500\u252c\u2500\u2500\u2510\n\u2502ab\u2502cd\u2502\n\u2514\u2500\u2500\u2534\u2500\u2500\u2518",
  "\u2588\u2593\u2592\u2591 \u2580\u2584 \u25a0\u25a1\u25b2\u25bc\u25cf\u25cb",
  "\u00a9 \u00ae \u2122 \u00a7 \u00b6 \u2020 \u2021 \u2026 \u2030 \u2022 \u00b7",
  "\u2014em dash\u2013en dash-hyphen\u2212minus\u2010hyphen",
  "\u00ab guillemets \u00bb \u201e German quotes\u201c \u2039single\u203a",
  "\u266a\u266b \u2660\u2663\u2665\u2666 \u263c\u2602\u2603",
  "!!!???...,,,;;;:::",
  "!@#$%^&*()_+-=[]{}|;':\",./<>?`~",
  "\\\\ \\n \\t \\u0041 \\x41",
  "....................................................................................................",
  "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_",
  "\u00bf\u00a1Hola!? \u00bfQu\u00e9 tal?",

  // --- mixed case and mixed scripts
  "ThE QuIcK BrOwN FoX JuMpS OvEr ThE LaZy DoG",
  "NASA's JPL and the USA's FBI met at 3PM in NYC.",
  "A\u00e9B\u4e2dC\u0645D\u{1f600}E\u05d0F\u0416G",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442.",
  "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac: \u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
  "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u0540\u0561\u0575\u0565\u0580\u0565\u0576 \u12a0\u121b\u122d\u129b",
  "Pok\u00e9mon na\u00efve co\u00f6perate r\u00e9sum\u00e9 fa\u00e7ade \u00dcber",
  "\u0421\u0422\u0420\u041e\u041a\u0410 \u0412 \u0412\u0415\u0420\u0425\u041d\u0415\u041c \u0420\u0415\u0413\u0418\u0421\u0422\u0420\u0415",
];

// Ordinary prose: English, then French, German and Spanish.
export const PROSE = [
  "The history of computing is a story of steady abstraction. Early machines were programmed by " +
    "rewiring panels and flipping switches, and every instruction had to be spelled out in terms " +
    "the hardware understood. Assemblers, compilers and operating systems each added a layer " +
    "between the programmer and the metal, so that people could think about the problem instead " +
    "of the circuitry.",
  "A good tokenizer is invisible. It turns raw text into a sequence of integers quickly, it never " +
    "loses information, and it produces the same output on every machine. When it fails, however, " +
    "the failures are subtle: a stray space, a split emoji, or a number broken into odd pieces " +
    "can quietly change what a model learns.",
  "On Tuesday morning the train was late again, so Maria walked the last two miles to the office. " +
    "The air was cold but clear, and the river beside the path was running high after the rain. " +
    "By the time she arrived, the meeting had already started without her.",
  "Bread needs only four ingredients: flour, water, salt and yeast. Mix them, let the dough rest, " +
    "fold it a few times over several hours, and bake it in a very hot oven. The crust should " +
    "crackle as it cools, and the crumb should be open and slightly glossy.",
  "Researchers often disagree about the best way to evaluate language models. Some prefer " +
    "benchmarks with fixed answers, while others argue that only human judgement can capture " +
    "qualities such as helpfulness, honesty and style. In practice, most teams use both.",
  "\"Are you sure?\" she asked. \"Completely,\" he replied, although he wasn't. They looked at the " +
    "map once more, folded it, and set off toward the hills that rose, blue and distant, beyond " +
    "the last farm on the road.",
  "The committee met on 14 March 2023 and approved a budget of $2.5 million for the project. " +
    "Work is expected to begin in the autumn and to take roughly eighteen months, depending on " +
    "the weather and on the availability of materials.",
  "Gardening teaches patience. Seeds planted in April may not show a single leaf for weeks, and " +
    "the tomatoes you picture in spring arrive, if at all, at the end of a long summer of " +
    "watering, weeding and worrying about slugs.",
  "Le mus\u00e9e ouvre ses portes \u00e0 neuf heures, mais il vaut mieux arriver t\u00f4t : les files " +
    "d'attente s'allongent tr\u00e8s vite en \u00e9t\u00e9. \u00c0 l'int\u00e9rieur, on peut admirer des " +
    "tableaux c\u00e9l\u00e8bres, des sculptures anciennes et une exposition consacr\u00e9e \u00e0 la " +
    "photographie fran\u00e7aise.",
  "Im Sommer fahren viele Familien an die Ostsee. Die Str\u00e4nde sind lang und flach, das Wasser " +
    "ist selten warm, und abends sitzt man gern in einem kleinen Gasthaus und isst frischen " +
    "Fisch. Gr\u00f6\u00dfere St\u00e4dte wie Rostock oder Kiel bieten au\u00dferdem Museen und Konzerte.",
  "El mercado del barrio abre todos los d\u00edas excepto el domingo. All\u00ed se puede comprar fruta, " +
    "verdura, pescado y pan reci\u00e9n hecho. \u00bfLo mejor? Los vendedores conocen a sus clientes " +
    "por su nombre y siempre tienen una recomendaci\u00f3n.",
];
