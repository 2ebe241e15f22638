/** The page's element by id (the ids are in index.html). */
export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** A fresh copy of a `<template>`'s one element: peer-supplied text then goes in as text only. */
export const template = (id: string) =>
  ((document.getElementById(id) as HTMLTemplateElement).content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement
