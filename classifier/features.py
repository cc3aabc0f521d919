"""Request-shape features shared by the rules strategy and the embedding head.

Everything here is cheap (regexes and counts, no model) and deterministic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from classifier.strategies.base import Request
from laneway.requests import estimate_tokens, request_text

CODE_FENCE = re.compile(r"```|~~~")
CODE_SYNTAX = re.compile(
    r"(^|\n)\s*(def |class |import |from \S+ import|#include|public static|function\s*\(|"
    r"const |let |var |SELECT |CREATE TABLE|for \(|while \(|if \(|return )"
    r"|=>|\)\s*\{|\};|;\s*\n|\bassert\s+\w+\(|\w+\(\w*[,)]|</?\w+>|==|!=|\+=|\[\d+\]",
    re.IGNORECASE,
)
CODE_WORDS = re.compile(
    r"\b(python|javascript|typescript|java|c\+\+|c#|golang|rust|kotlin|swift|sql|regex|"
    r"bash|shell script|html|css|react|django|flask|api|json|yaml|function|method|class|"
    r"algorithm|recursion|recursive|array|linked list|binary tree|hash ?map|dictionary|"
    r"string|integer|compile|compiler|runtime|exception|stack trace|bug|debug|refactor|"
    r"unit tests?|code|program|script|implement(ation)?|time complexity|big-o|o\(n)\b",
    re.IGNORECASE,
)
WRITE_CODE = re.compile(
    r"\b(write|implement|create|build|code|develop|fix|debug|refactor|optimi[sz]e)\b[^.?!\n]{0,60}"
    r"\b(function|program|script|class|method|algorithm|code|query|regex|app|api|module|"
    r"endpoint|parser|server|bot|component)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(r"(?<![\w.])[-$€£]?\d[\d,]*(\.\d+)?%?")
NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|half|twice|triple|double|quarter|third)\b",
    re.IGNORECASE,
)
MATH_QUESTION = re.compile(
    r"\b(how many|how much|how long|how far|how old|what is the (total|average|sum|"
    r"difference|probability|area|value|maximum|minimum)|calculate|compute|find the|solve|"
    r"prove|percent|remaining|left over|altogether|in total|each|per|ratio)\b",
    re.IGNORECASE,
)
ARITHMETIC = re.compile(r"^[^a-z]*\d[\d\s.,]*([-+*/x×÷^%]\s*[\d.,]+\s*)+[^a-z]*$", re.IGNORECASE)
SIMPLE_ARITH = re.compile(
    r"^\s*(what('?s| is)|calculate|compute|add( up)?|subtract|multiply|divide|"
    r"what do you get if you)\b[^.?!]{0,40}\d[^.?!]{0,40}\??\s*$",
    re.IGNORECASE,
)
UNIT_CONVERSION = re.compile(
    r"\b(convert|how many|in|to)\b.{0,30}\b(inch|inches|cm|centimet\w*|met(er|re)s?|km|"
    r"kilomet\w*|miles?|feet|foot|yards?|pounds?|lbs?|kg|kilograms?|grams?|ounces?|oz|"
    r"liters?|litres?|gallons?|cups?|tablespoons?|teaspoons?|fahrenheit|celsius|degrees|"
    r"mph|kph|hours?|minutes?|seconds?|days?|weeks?)\b",
    re.IGNORECASE,
)
GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening|night)|thanks?( you)?|"
    r"thank you so much|thx|bye|goodbye|see you|see ya|cheers|ok(ay)?|cool|nice|great|"
    r"how are you|how's it going|how ya doin|what'?s up|sup|are you (a )?(bot|human|real)|"
    r"who (are|made|built|created) you|what'?s your name|what is your name)\b",
    re.IGNORECASE,
)
TRANSLATE = re.compile(
    r"\b(translate|translation of|how do (you|i) say|what is .{1,40} in (french|spanish|german|"
    r"italian|japanese|chinese|portuguese|russian|korean|arabic|hindi|dutch))\b",
    re.IGNORECASE,
)
DEFINITION = re.compile(
    r"^\s*(define|definition of|what does .{1,30} mean|what is the meaning of|meaning of|"
    r"what('s| is) (a|an|the)? ?\w+( \w+)?\??$|synonym|antonym|spell)",
    re.IGNORECASE,
)
CLASSIFY_TASK = re.compile(
    r"\b(sentiment|positive or negative|negative or positive|classify|categori[sz]e|"
    r"which category|pick one category|what category|topic (of|is)|label|is this (review|text|"
    r"tweet|sentence)|would the (user|following review)|does the (user|reviewer)|"
    r"tell me if|yes or no|true or false|answer with|respond with|choose (one|from)|"
    r"options are|extract the|what is the (name|date|email|phone))\b",
    re.IGNORECASE,
)
SUMMARISE = re.compile(
    r"\b(summari[sz]e|summary|tl;?dr|key points|main points|distill|synthesi[sz]e|condense|"
    r"analy[sz]e|analysis|review the following|critique|compare these|the following "
    r"(articles?|documents?|text|report|paper|passage|transcript|data|table))\b",
    re.IGNORECASE,
)
LONG_OUTPUT = re.compile(
    r"\b(\d{3,5}[- ]words?|essay|report|in detail|detailed|comprehensive|step[- ]by[- ]step|"
    r"thesis|business plan|chapter|white ?paper|research paper|full (guide|plan)|itinerary|"
    r"curriculum|lesson plan|project plan|roadmap)\b",
    re.IGNORECASE,
)
REASONING = re.compile(
    r"\b(prove|proof|puzzle|riddle|logic|deduce|infer|derive|optimi[sz]e|strategy|"
    r"step[- ]by[- ]step|explain your (answer|reasoning)|show your work|estimate)\b",
    re.IGNORECASE,
)
HOW_TO = re.compile(
    r"^\s*(how (do|can|should|would) (i|we|you|one)|how to|what are (some|the best|good)|"
    r"what should i|any tips|tips for|ways to|help me|can you (help|give|suggest|recommend)|"
    r"should i|is it (better|worth)|explain|describe|compare|why (do|does|is|are)|"
    r"what if|imagine|pretend|as an? |write (a|an|me)|compose|draft)",
    re.IGNORECASE,
)
WRITE_SHORT = re.compile(
    r"\b(write|draft|compose|craft)\b.{0,40}\b(email|e-mail|letter|note|poem|haiku|limerick|"
    r"tweet|slogan|caption|toast|message|paragraph|bio|headline|review|story|speech)\b",
    re.IGNORECASE,
)
QUESTION_WORD = re.compile(
    r"^\s*(who|what|when|where|which|whom|whose|is|are|was|were|do|does|"
    r"did|can|how (many|much|old|tall|far|long))\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True, slots=True)
class Shape:
    """Counts describing a request's size and form."""

    text: str
    last_user: str
    words: int
    tokens: int
    max_tokens: int
    tools: bool
    json_format: bool
    messages: int
    system: bool
    fence: bool
    code_syntax: int
    code_words: int
    write_code: bool
    numbers: int
    number_words: int
    math_question: bool
    lines: int


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def last_user_text(request: Request) -> str:
    """The last user message (or the prompt): what the request is asking now."""
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role", "user") == "user":
                return _content_text(message.get("content"))
        return ""
    return request_text(request)


def requested_max_tokens(request: Request) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def shape(request: Request) -> Shape:
    text = request_text(request)
    messages = request.get("messages")
    message_list = messages if isinstance(messages, list) else []
    response_format = request.get("response_format")
    json_format = isinstance(response_format, dict) and str(
        response_format.get("type", "")
    ).startswith("json")
    return Shape(
        text=text,
        last_user=last_user_text(request),
        words=len(WORD.findall(text)),
        tokens=estimate_tokens(text),
        max_tokens=requested_max_tokens(request),
        tools=bool(request.get("tools") or request.get("functions")),
        json_format=json_format,
        messages=len(message_list),
        system=any(isinstance(m, dict) and m.get("role") == "system" for m in message_list),
        fence=bool(CODE_FENCE.search(text)),
        code_syntax=len(CODE_SYNTAX.findall(text)),
        code_words=len(CODE_WORDS.findall(text)),
        write_code=bool(WRITE_CODE.search(text)),
        numbers=len(NUMBER.findall(text)),
        number_words=len(NUMBER_WORD.findall(text)),
        math_question=bool(MATH_QUESTION.search(text)),
        lines=text.count("\n") + 1 if text else 0,
    )


FEATURE_NAMES: tuple[str, ...] = (
    "log_words",
    "words<6",
    "words<12",
    "words<25",
    "words<60",
    "words>=150",
    "words>=400",
    "log_max_tokens",
    "max_tokens<=64",
    "max_tokens>=1000",
    "tools",
    "json_format",
    "multi_turn",
    "system",
    "fence",
    "code_syntax",
    "code_words",
    "write_code",
    "numbers",
    "numbers>=3",
    "math_question",
    "math_problem",
    "log_lines",
    "greeting",
    "translate",
    "definition",
    "classify_task",
    "summarise",
    "long_output",
    "reasoning",
    "how_to",
    "write_short",
    "question_word",
    "classify_task_tail",
    "summarise_tail",
)

TAIL_CHARS = 250
"""A pasted text usually comes first and the task last ("<review> Is this review
positive?"): the task regexes also read this many characters at the end of a message too
long for the head's 400."""


def feature_vector(request: Request) -> list[float]:
    """Numeric features (order: FEATURE_NAMES), roughly unit-scaled for a linear head."""
    s = shape(request)
    head = s.last_user[:400]
    tail = s.last_user[-TAIL_CHARS:] if len(s.last_user) > 400 else ""
    numbers = s.numbers + s.number_words
    return [
        math.log1p(s.words) / 4.0,
        float(s.words < 6),
        float(s.words < 12),
        float(s.words < 25),
        float(s.words < 60),
        float(s.words >= 150),
        float(s.words >= 400),
        math.log1p(s.max_tokens) / 7.0,
        float(0 < s.max_tokens <= 64),
        float(s.max_tokens >= 1000),
        float(s.tools),
        float(s.json_format),
        float(s.messages > 2),
        float(s.system),
        float(s.fence),
        min(s.code_syntax, 10) / 5.0,
        min(s.code_words, 10) / 5.0,
        float(s.write_code),
        min(numbers, 12) / 6.0,
        float(numbers >= 3),
        float(s.math_question),
        float(numbers >= 3 and s.math_question and s.words >= 20),
        math.log1p(s.lines) / 3.0,
        float(bool(GREETING.search(head))),
        float(bool(TRANSLATE.search(head))),
        float(bool(DEFINITION.search(head))),
        float(bool(CLASSIFY_TASK.search(head))),
        float(bool(SUMMARISE.search(head))),
        float(bool(LONG_OUTPUT.search(head))),
        float(bool(REASONING.search(head))),
        float(bool(HOW_TO.search(head))),
        float(bool(WRITE_SHORT.search(head))),
        float(bool(QUESTION_WORD.search(head))),
        float(bool(CLASSIFY_TASK.search(tail))),
        float(bool(SUMMARISE.search(tail))),
    ]
