/**
 * Markdown for newsletter bodies (markdown-it, raw HTML off): to HTML for the email's HTML part, and to plain text
 * for its text part, where each link's address is written out after its words.
 */
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';

// html: false means any HTML a manager types is shown as text, never passed through; linkify turns bare URLs into links.
const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: true });

const STYLES: Record<string, string> = {
  p: 'margin:0 0 1em 0;',
  ul: 'margin:0 0 1em 1.2em;padding:0;',
  ol: 'margin:0 0 1em 1.2em;padding:0;',
  h1: 'font-size:20px;margin:1em 0 .5em 0;',
  h2: 'font-size:18px;margin:1em 0 .5em 0;',
  h3: 'font-size:16px;margin:1em 0 .5em 0;',
};

/** markdownToHtml renders Markdown to HTML with inline styles (mail clients drop style sheets). */
export function markdownToHtml(source: string): string {
  const tokens = md.parse(source, {});
  for (const t of tokens) {
    const style = STYLES[t.tag];
    if (t.nesting === 1 && style) t.attrSet('style', style);
  }
  return md.renderer.render(tokens, md.options, {});
}

function inlineText(children: Token[]): string {
  let out = '';
  let href: string | null = null;
  let linkText = '';
  for (const c of children) {
    if (c.type === 'link_open') {
      href = c.attrGet('href');
      linkText = '';
    } else if (c.type === 'link_close') {
      // A bare URL linkified shows once; a worded link shows its words, then the address.
      out += href && linkText !== href && `mailto:${linkText}` !== href ? `${linkText} (${href})` : linkText;
      href = null;
    } else if (c.type === 'softbreak' || c.type === 'hardbreak') {
      if (href !== null) linkText += ' ';
      else out += '\n';
    } else if (c.type === 'text' || c.type === 'code_inline') {
      if (href !== null) linkText += c.content;
      else out += c.content;
    } else if (c.type === 'image') {
      out += c.content ? `[${c.content}]` : '';
    }
  }
  return out;
}

/** markdownToText renders Markdown as readable plain text: paragraphs, "- " and "1. " lists, links written out. */
export function markdownToText(source: string): string {
  const tokens = md.parse(source, {});
  const blocks: string[] = [];
  const lists: { ordered: boolean; n: number }[] = [];
  let prefix = '';
  for (const t of tokens) {
    if (t.type === 'bullet_list_open' || t.type === 'ordered_list_open') {
      lists.push({ ordered: t.type === 'ordered_list_open', n: Number(t.attrGet('start') ?? 1) });
    } else if (t.type === 'bullet_list_close' || t.type === 'ordered_list_close') {
      lists.pop();
    } else if (t.type === 'list_item_open') {
      const list = lists[lists.length - 1];
      prefix = '  '.repeat(lists.length - 1) + (list.ordered ? `${list.n++}. ` : '- ');
    } else if (t.type === 'inline') {
      const text = inlineText(t.children ?? []);
      if (prefix) {
        blocks.push(prefix + text);
        prefix = '';
      } else {
        blocks.push(text);
      }
    } else if (t.type === 'hr') {
      blocks.push('----');
    } else if (t.type === 'fence' || t.type === 'code_block') {
      blocks.push(t.content.replace(/\n$/, ''));
    }
  }
  // List items sit on consecutive lines; other blocks are separated by a blank line.
  let out = '';
  blocks.forEach((b, i) => {
    if (i > 0) out += /^\s*(- |\d+\. )/.test(b) && /^\s*(- |\d+\. )/.test(blocks[i - 1]) ? '\n' : '\n\n';
    out += b;
  });
  return out.trim();
}
