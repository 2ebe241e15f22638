/** The page's element by id (the ids are in index.html). */
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** A fresh copy of a `<template>`'s one element: peer-supplied text then goes in as text only. */
export const template = (id: string) =>
  ((document.getElementById(id) as HTMLTemplateElement).content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement

/**
 * Changes an element's text in place (one text node kept), so the log's live region, which announces
 * additions only, does not read receipts and progress out again with every change.
 */
export function setText(element: Element, text: string) {
  if (element.firstChild instanceof Text && element.childNodes.length === 1) element.firstChild.data = text
  else element.replaceChildren(document.createTextNode(text))
}
