// The ncursesw surface TerminalKit uses, with macros and globals wrapped as functions:
// Swift cannot import function-like macros, and Swift 6 rejects direct use of mutable C globals
// such as stdscr, LINES and COLS.
#ifndef GATEHOUSE_CNCURSESW_SHIM_H
#define GATEHOUSE_CNCURSESW_SHIM_H

#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline WINDOW *gh_stdscr(void) { return stdscr; }
static inline int gh_lines(void) { return LINES; }
static inline int gh_cols(void) { return COLS; }
static inline int gh_colors(void) { return COLORS; }
static inline int gh_color_pairs(void) { return COLOR_PAIRS; }

static inline attr_t gh_color_pair(int pair) { return (attr_t)COLOR_PAIR(pair); }
static inline attr_t gh_a_normal(void) { return A_NORMAL; }
static inline attr_t gh_a_bold(void) { return A_BOLD; }
static inline attr_t gh_a_dim(void) { return A_DIM; }
static inline attr_t gh_a_underline(void) { return A_UNDERLINE; }
static inline attr_t gh_a_reverse(void) { return A_REVERSE; }
static inline attr_t gh_a_italic(void) { return A_ITALIC; }

static inline int gh_key_f(int n) { return KEY_F(n); }

static inline mmask_t gh_all_mouse_events(void) { return ALL_MOUSE_EVENTS; }
static inline mmask_t gh_button_pressed(int button) {
    switch (button) {
    case 1: return BUTTON1_PRESSED | BUTTON1_CLICKED;
    case 3: return BUTTON3_PRESSED | BUTTON3_CLICKED;
    case 4: return BUTTON4_PRESSED;
    case 5: return BUTTON5_PRESSED;
    default: return 0;
    }
}

// True when the current terminal can move the cursor to a row and column (terminfo `cup`);
// without it (TERM=dumb, a printing terminal) curses cannot draw a screen.
static inline int gh_has_cursor_addressing(void) {
    const char *cup = tigetstr("cup");
    return cup != NULL && cup != (const char *)-1;
}

// Display columns of a character under the current LC_CTYPE.
static inline int gh_wcwidth(wchar_t c) { return wcwidth(c); }

static inline void gh_getmaxyx(WINDOW *window, int *rows, int *columns) {
    int y, x;
    getmaxyx(window, y, x);
    *rows = y;
    *columns = x;
}

// Sets attributes and colour pair (pairs above 255 need the opts argument).
static inline int gh_attr_set(attr_t attributes, int pair) {
    return attr_set(attributes, (short)(pair > 32767 ? 0 : pair), NULL);
}

// Reads one key or character; returns KEY_CODE_YES for function keys, OK for characters, ERR on timeout.
static inline int gh_get_wch(wint_t *out) { return get_wch(out); }

static inline int gh_mvaddnwstr(int y, int x, const wchar_t *text, int count) {
    return mvaddnwstr(y, x, text, count);
}
#endif
