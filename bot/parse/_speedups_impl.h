/* One character width of bot/parse/_speedups.c: included once per PyUnicode kind with CH (the code
 * unit type) and FN(name) (the function name for that width) defined. See _speedups.c for what each
 * function computes; bot/parse/normalise.py holds the Python definitions they must equal. */

/* s.find(c, i) for c < 256: -1 when absent. */
static Py_ssize_t
FN(find_char)(const CH *s, Py_ssize_t n, Py_ssize_t i, Py_UCS4 c)
{
    if (i >= n)
        return -1;
#ifdef CH_IS_BYTE
    const CH *p = memchr(s + i, (int)c, (size_t)(n - i));
    return p == NULL ? -1 : p - s;
#else
    for (; i < n; i++) {
        if (s[i] == c)
            return i;
    }
    return -1;
#endif
}

/* s.find(a b c, i) for three ASCII characters: -1 when absent. */
static Py_ssize_t
FN(find3)(const CH *s, Py_ssize_t n, Py_ssize_t i, char a, char b, char c)
{
    for (; i + 2 < n; i++) {
        if (s[i] == (CH)a && s[i + 1] == (CH)b && s[i + 2] == (CH)c)
            return i;
    }
    return -1;
}

/* Does s[i:] start with the ASCII string lit? */
static int
FN(starts)(const CH *s, Py_ssize_t n, Py_ssize_t i, const char *lit, Py_ssize_t len)
{
    if (i + len > n)
        return 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        if (s[i + k] != (CH)(unsigned char)lit[k])
            return 0;
    }
    return 1;
}

/* The first '<' or '>' at or after i (n when neither). */
static Py_ssize_t
FN(angle)(const CH *s, Py_ssize_t n, Py_ssize_t i)
{
    for (; i < n; i++) {
        if (s[i] == '<' || s[i] == '>')
            return i;
    }
    return n;
}

/* Where "</" + name (name lower-case ASCII) starts at or after i, letters compared ASCII
 * case-insensitively: -1 when absent. */
static Py_ssize_t
FN(find_close)(const CH *s, Py_ssize_t n, Py_ssize_t i, const char *name, Py_ssize_t len)
{
    for (; i + 1 + len < n; i++) {
        if (s[i] != '<' || s[i + 1] != '/')
            continue;
        Py_ssize_t k = 0;
        for (; k < len; k++) {
            Py_UCS4 c = s[i + 2 + k];
            if (c >= 'A' && c <= 'Z')
                c += 'a' - 'A';
            if (c != (Py_UCS4)(unsigned char)name[k])
                break;
        }
        if (k == len)
            return i;
    }
    return -1;
}

/* _strip_tags_loop(s) into out (room for n code units): its length, or -1 when s opens a
 * script/style/noscript/template element and holds a character whose lower-casing changes its length
 * (the loop then searches s.lower() with the indexes of s: left to the Python loop). */
static Py_ssize_t
FN(strip)(const CH *s, Py_ssize_t n, CH *out, int lower_ok)
{
    Py_ssize_t i = 0, o = 0;
    while (i < n) {
        Py_ssize_t j = FN(find_char)(s, n, i, '<');
        if (j < 0)
            j = n;
        memcpy(out + o, s + i, (size_t)(j - i) * sizeof(CH));
        o += j - i;
        if (j == n)
            break;
        if (FN(starts)(s, n, j, "<!--", 4)) {
            Py_ssize_t k = FN(find3)(s, n, j + 4, '-', '-', '>');
            out[o++] = ' ';
            i = k < 0 ? n : k + 3;
            continue;
        }
        if (FN(starts)(s, n, j, "<![CDATA[", 9)) {
            Py_ssize_t k = FN(find3)(s, n, j + 9, ']', ']', '>');
            Py_ssize_t end = k < 0 ? n : k;
            memcpy(out + o, s + j + 9, (size_t)(end - (j + 9)) * sizeof(CH));
            o += end - (j + 9);
            i = k < 0 ? n : k + 3;
            continue;
        }
        /* </?([a-zA-Z][a-zA-Z0-9:-]*+)[^<>]*+> */
        Py_ssize_t p = j + 1;
        int closing = 0;
        if (p < n && s[p] == '/') {
            closing = 1;
            p++;
        }
        if (p < n && IS_ALPHA(s[p])) {
            Py_ssize_t name_start = p;
            while (p < n && IS_NAME(s[p]))
                p++;
            Py_ssize_t name_len = p - name_start;
            Py_ssize_t end = FN(angle)(s, n, p);
            if (end < n && s[end] == '>') {
                char name[MAX_NAME + 1];
                int known = name_len <= MAX_NAME;
                if (known) {
                    for (Py_ssize_t k = 0; k < name_len; k++) {
                        Py_UCS4 c = s[name_start + k];
                        name[k] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
                    }
                    name[name_len] = '\0';
                }
                i = end + 1;
                int what = known ? tag_kind(name) : OTHER;
                if (what == IS_DROP && !closing) {
                    if (!lower_ok)
                        return -1;
                    Py_ssize_t k = FN(find_close)(s, n, i, name, name_len);
                    if (k < 0) {
                        i = n;
                    }
                    else {
                        Py_ssize_t close = FN(find_char)(s, n, k, '>');
                        i = close < 0 ? n : close + 1;
                    }
                    out[o++] = ' ';
                }
                else if (what == IS_BLOCK) {
                    out[o++] = ' ';
                }
                continue;
            }
        }
        /* <[!?][^<>]*+> */
        if (j + 1 < n && (s[j + 1] == '!' || s[j + 1] == '?')) {
            Py_ssize_t end = FN(angle)(s, n, j + 2);
            if (end < n && s[end] == '>') {
                i = end + 1;
                continue;
            }
        }
        out[o++] = '<'; /* a lone '<' is text */
        i = j + 1;
    }
    return o;
}

/* How much of s is already as " ".join(s.split()) gives it: the index of the first whitespace that is
 * not a single ' ' between two words, or n when there is none (s is its own result). */
static Py_ssize_t
FN(collapsed_upto)(const CH *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (SPACE(s[i]) && (s[i] != ' ' || i == 0 || i + 1 == n || SPACE(s[i + 1])))
            return i;
    }
    return n;
}

/* " ".join(s.split()) into out (room for n code units), whose first k code units (collapsed_upto) are
 * already there: its length. Branch-free per character: every character is written, and the write
 * position advances unless it is whitespace following whitespace (or the start); a trailing ' ' is
 * taken back at the end. */
static Py_ssize_t
FN(collapse)(const CH *s, Py_ssize_t n, CH *out, Py_ssize_t k)
{
    Py_ssize_t o = k;
    int gap = k == 0; /* s[k - 1] is not whitespace; the start counts as whitespace */
    for (Py_ssize_t i = k; i < n; i++) {
        CH c = s[i];
        int sp = SPACE(c) ? 1 : 0;
        out[o] = sp ? (CH)' ' : c;
        o += !(sp & gap);
        gap = sp;
    }
    if (gap && o) /* trailing whitespace */
        o--;
    return o;
}
